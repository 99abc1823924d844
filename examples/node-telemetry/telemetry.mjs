// Three answers through withTelemetry against the embedded mock server (no
// network): a clean one, one retried after a 429, one restarted after a
// connection cut. Their spans (with retry and restart events) and the GenAI
// metrics go to the console exporters; with OTEL_EXPORTER_OTLP_ENDPOINT set
// (e.g. http://127.0.0.1:4318), to that OTLP/HTTP collector instead.
//
//   npm run build
//   node examples/node-telemetry/telemetry.mjs
//   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 node examples/node-telemetry/telemetry.mjs
//
// Needs @opentelemetry/api, @opentelemetry/sdk-trace-base and
// @opentelemetry/sdk-metrics; with an endpoint, also
// @opentelemetry/exporter-trace-otlp-http and @opentelemetry/exporter-metrics-otlp-http.
// The last line printed is a JSON summary of the answers.
import { metrics, trace } from '@opentelemetry/api';
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { lastValueFrom } from 'rxjs';
import { accumulateContent, fromChatCompletion, untilDone } from 'rxjs-llm-stream';
import { withTelemetry } from 'rxjs-llm-stream/telemetry';
import { startMockChatServer } from 'rxjs-llm-stream/testing';

const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, '');

async function exporters() {
  if (!endpoint) return { spans: new ConsoleSpanExporter(), metrics: new ConsoleMetricExporter() };
  const [{ OTLPTraceExporter }, { OTLPMetricExporter }] = await Promise.all([
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/exporter-metrics-otlp-http'),
  ]);
  return { spans: new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }), metrics: new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` }) };
}

const exporter = await exporters();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter.spans)] });
const meterProvider = new MeterProvider({
  readers: [new PeriodicExportingMetricReader({ exporter: exporter.metrics, exportIntervalMillis: 60_000 })],
});
trace.setGlobalTracerProvider(tracerProvider);
metrics.setGlobalMeterProvider(meterProvider);

const server = await startMockChatServer({
  scenario: { paceMs: 10 }, // a model's pace: chunks 10 ms apart
  script: [
    {},
    { fault: { kind: 'status', status: 429, retryAfterMs: 50 } },
    {},
    { fault: { kind: 'drop', afterChunks: 4 } },
    {},
  ],
});
const summary = [];
try {
  for (const prompt of ['Say hello.', 'Name a colour.', 'Count to three.']) {
    const request = { baseURL: `${server.url}/v1`, apiKey: 'sk-example-not-recorded', body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] } };
    const retries = [];
    const answer = await lastValueFrom(
      fromChatCompletion(request).pipe(
        untilDone(),
        withTelemetry({ api: 'chat.completions', request, retry: { initialDelay: 20, jitter: 'none', onRetry: ({ attempt }) => retries.push(attempt) } }),
        accumulateContent(),
      ),
    );
    summary.push({ prompt, content: answer.content, finishReason: answer.finishReason, retries: retries.length });
  }
} finally {
  await server.close();
  await meterProvider.shutdown(); // exports what was recorded, once
  await tracerProvider.shutdown(); // flushes the last spans
}
process.stdout.write(`${JSON.stringify({ answers: summary, exportedTo: endpoint ?? 'console' })}\n`);
