/**
 * examples/node-telemetry: three answers (clean, retried after a 429,
 * restarted after a cut) exported to the console exporters by default, and
 * to an OTLP/HTTP collector when OTEL_EXPORTER_OTLP_ENDPOINT names one (here
 * a loopback server that records what it receives).
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ensureBuilt, ROOT } from './support/ensureBuilt';
import { runScript } from './support/runScript';

const SCRIPT = join(ROOT, 'examples', 'node-telemetry', 'telemetry.mjs');
const KEY = 'sk-example-not-recorded';
const { OTEL_EXPORTER_OTLP_ENDPOINT: _ignored, ...cleanEnv } = process.env;

const summaryOf = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!) as { answers: { retries: number; finishReason: string }[]; exportedTo: string };

describe('examples/node-telemetry', () => {
  beforeAll(() => ensureBuilt(), 180_000);

  it('prints the spans, their retry and restart events and the GenAI metrics to the console by default', async () => {
    const run = await runScript(SCRIPT, [], { env: cleanEnv, limitMs: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const summary = summaryOf(run.stdout);
    expect(summary).toEqual({ answers: [expect.objectContaining({ retries: 0 }), expect.objectContaining({ retries: 1 }), expect.objectContaining({ retries: 1 })], exportedTo: 'console' });
    expect(run.stdout.match(/name: 'chat gpt-4o-mini'/g)).toHaveLength(3);
    for (const name of ['rxjs_llm_stream.retry', 'rxjs_llm_stream.restart', 'gen_ai.client.operation.duration', 'gen_ai.client.token.usage', 'gen_ai.client.operation.time_to_first_chunk', 'gen_ai.client.operation.time_per_output_chunk']) {
      expect(run.stdout).toContain(name);
    }
    expect(run.stdout).not.toContain(KEY);
  }, 90_000);

  it('sends them to the OTLP/HTTP collector OTEL_EXPORTER_OTLP_ENDPOINT names, and prints none', async () => {
    const received: { path: string; body: string }[] = [];
    const collector = createServer((request: IncomingMessage, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (data: string) => (body += data));
      request.on('end', () => {
        received.push({ path: request.url ?? '', body });
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
      const run = await runScript(SCRIPT, [], { env: { ...cleanEnv, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }, limitMs: 60_000 });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(summaryOf(run.stdout).exportedTo).toBe(endpoint);
      expect(run.stdout.trim().split('\n')).toHaveLength(1); // the summary only
      const traces = received.filter((r) => r.path === '/v1/traces').map((r) => JSON.parse(r.body));
      const spans = traces.flatMap((t) => t.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)));
      expect(spans.map((span: any) => span.name)).toEqual(['chat gpt-4o-mini', 'chat gpt-4o-mini', 'chat gpt-4o-mini']);
      expect(spans.map((span: any) => (span.events ?? []).map((event: any) => event.name))).toEqual([
        [],
        ['rxjs_llm_stream.retry'],
        ['rxjs_llm_stream.retry', 'rxjs_llm_stream.restart'],
      ]);
      const metricNames = received
        .filter((r) => r.path === '/v1/metrics')
        .flatMap((r) => JSON.parse(r.body).resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics.map((m: any) => m.name))));
      expect(metricNames.sort()).toEqual([
        'gen_ai.client.operation.duration',
        'gen_ai.client.operation.time_per_output_chunk',
        'gen_ai.client.operation.time_to_first_chunk',
        'gen_ai.client.token.usage',
      ]);
      expect(received.map((r) => r.body).join('')).not.toContain(KEY);
    } finally {
      await new Promise<void>((resolve) => collector.close(() => resolve()));
    }
  }, 90_000);
});
