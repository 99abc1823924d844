/**
 * Every OpenTelemetry convention name the telemetry emits, compared with the
 * constants of the published `@opentelemetry/semantic-conventions` package
 * (its incubating entry, where the GenAI conventions live), and every
 * attribute and metric name a real answer produces checked to be either one
 * of those or this package's own `rxjs_llm_stream.*`.
 */
import * as semconv from '@opentelemetry/semantic-conventions/incubating';
import { lastValueFrom } from 'rxjs';
import { fromChatCompletion, untilDone } from '../src/index.js';
import { startMockChatServer } from '../src/testing/index.js';
import { withTelemetry } from '../src/telemetry/index.js';
import { ATTR, METRIC, VALUE } from '../src/telemetry/conventions.js';
import { startTelemetryHarness } from './support/telemetryHarness';

describe('the telemetry names are the published semantic conventions', () => {
  it('attributes', () => {
    expect(ATTR).toEqual({
      operationName: semconv.ATTR_GEN_AI_OPERATION_NAME,
      providerName: semconv.ATTR_GEN_AI_PROVIDER_NAME,
      requestModel: semconv.ATTR_GEN_AI_REQUEST_MODEL,
      requestStream: semconv.ATTR_GEN_AI_REQUEST_STREAM,
      responseModel: semconv.ATTR_GEN_AI_RESPONSE_MODEL,
      responseId: semconv.ATTR_GEN_AI_RESPONSE_ID,
      responseFinishReasons: semconv.ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
      responseTimeToFirstChunk: semconv.ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
      usageInputTokens: semconv.ATTR_GEN_AI_USAGE_INPUT_TOKENS,
      usageOutputTokens: semconv.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
      usageCacheReadInputTokens: semconv.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
      tokenType: semconv.ATTR_GEN_AI_TOKEN_TYPE,
      inputMessages: semconv.ATTR_GEN_AI_INPUT_MESSAGES,
      outputMessages: semconv.ATTR_GEN_AI_OUTPUT_MESSAGES,
      serverAddress: semconv.ATTR_SERVER_ADDRESS,
      serverPort: semconv.ATTR_SERVER_PORT,
      errorType: semconv.ATTR_ERROR_TYPE,
      httpStatusCode: semconv.ATTR_HTTP_RESPONSE_STATUS_CODE,
    });
  });

  it('values', () => {
    expect(VALUE).toEqual({
      chat: semconv.GEN_AI_OPERATION_NAME_VALUE_CHAT,
      generateContent: semconv.GEN_AI_OPERATION_NAME_VALUE_GENERATE_CONTENT,
      openai: semconv.GEN_AI_PROVIDER_NAME_VALUE_OPENAI,
      anthropic: semconv.GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC,
      gcpGemini: semconv.GEN_AI_PROVIDER_NAME_VALUE_GCP_GEMINI,
      input: semconv.GEN_AI_TOKEN_TYPE_VALUE_INPUT,
      output: semconv.GEN_AI_TOKEN_TYPE_VALUE_OUTPUT,
      otherError: semconv.ERROR_TYPE_VALUE_OTHER,
    });
  });

  it('metrics', () => {
    expect(METRIC).toEqual({
      operationDuration: semconv.METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
      tokenUsage: semconv.METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
      timeToFirstChunk: semconv.METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
      timePerOutputChunk: semconv.METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
    });
  });

  it('a real answer emits only convention names and rxjs_llm_stream.* names', async () => {
    const published = new Set(Object.entries(semconv).filter(([key]) => /^(ATTR|METRIC)_/.test(key)).map(([, value]) => value as string));
    const otel = startTelemetryHarness();
    const server = await startMockChatServer({ script: [{ fault: { kind: 'status', status: 503 } }, {}] });
    try {
      const request = { baseURL: `${server.url}/v1`, body: { model: 'm', messages: [] } };
      await lastValueFrom(
        fromChatCompletion(request).pipe(untilDone(), withTelemetry({ api: 'chat.completions', request, recordContent: true, retry: { initialDelay: 1 }, tracer: otel.tracer, meter: otel.meter })),
      );
      const [span] = otel.spans();
      const names = [
        ...Object.keys(span!.attributes),
        ...span!.events.flatMap((event) => Object.keys(event.attributes ?? {})),
        ...Object.entries(await otel.metrics()).flatMap(([metric, points]) => [metric, ...points.flatMap((point) => Object.keys(point.attributes))]),
      ];
      expect(names.length).toBeGreaterThan(20);
      expect([...new Set(names)].filter((name) => !published.has(name) && !name.startsWith('rxjs_llm_stream.'))).toEqual([]);
      expect(span!.events.map((event) => event.name).filter((name) => !name.startsWith('rxjs_llm_stream.'))).toEqual([]);
    } finally {
      await server.close();
      await otel.shutdown();
    }
  });
});
