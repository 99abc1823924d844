/**
 * withTelemetry against the OpenTelemetry SDK's in-memory exporters: the
 * exact span (name, kind, attributes, events, status) and the exact GenAI
 * client metrics of a clean answer, a retried one, a restarted one, a resumed
 * Responses answer, the other three APIs, timeouts, failures and
 * cancellation; values pass through untouched (marble tests). Sources run
 * against the library's mock server on 127.0.0.1. The harness's clock
 * advances 100 ms per read (start, each value, end), so durations are exact.
 */
import { defer, from, lastValueFrom, Observable, take, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { metrics, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  accumulateContent,
  fromAnthropicMessages,
  fromChatCompletion,
  fromGeminiContent,
  fromResponses,
  HttpError,
  IdleTimeoutError,
  markStreamStart,
  streamStartOf,
  untilDone,
  withDeadline,
  type ChatCompletionChunk,
} from '../src/index.js';
import { startMockChatServer, type MockChatServer, type MockScenario } from '../src/testing/index.js';
import { withTelemetry, type WithTelemetryOptions } from '../src/telemetry/index.js';
import { startTelemetryHarness, type Point, type TelemetryHarness } from './support/telemetryHarness';

const messages = [{ role: 'user' as const, content: 'Say something.' }];

/** The usage chunk's counts, read from the chunks themselves. */
function usageOf(values: unknown[]): { input: number; output: number; cached: number | undefined } {
  const usage = (values as ChatCompletionChunk[]).map((chunk) => chunk.usage).filter((u) => u != null).at(-1)!;
  return { input: usage.prompt_tokens, output: usage.completion_tokens, cached: usage.prompt_tokens_details?.cached_tokens };
}

const eventsOf = (span: ReadableSpan) => span.events.map((event) => [event.name, event.attributes ?? {}]);

describe('withTelemetry', () => {
  let server: MockChatServer | undefined;
  let otel: TelemetryHarness;
  beforeEach(() => (otel = startTelemetryHarness()));
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await otel.shutdown();
  });

  const telemetry = <T>(options: WithTelemetryOptions) => withTelemetry<T>({ tracer: otel.tracer, meter: otel.meter, now: otel.now, ...options });
  const onlySpan = () => {
    const spans = otel.spans();
    expect(spans).toHaveLength(1);
    return spans[0]!;
  };

  describe('a clean Chat Completions answer', () => {
    it('gives one client span with the GenAI attributes, no events, and the four GenAI metrics', async () => {
      server = await startMockChatServer();
      const request = { baseURL: `${server.url}/v1`, apiKey: 'sk-test', body: { model: 'gpt-test', messages } };
      const values = await lastValueFrom(fromChatCompletion(request).pipe(untilDone(), telemetry({ api: 'chat.completions', request }), toArray()));
      const port = Number(new URL(server.url).port);
      const usage = usageOf(values);
      const span = onlySpan();
      expect(span.name).toBe('chat gpt-test');
      expect(span.kind).toBe(2); // SpanKind.CLIENT
      expect(span.attributes).toEqual({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-test',
        'gen_ai.request.stream': true,
        'gen_ai.response.model': 'mock-model',
        'gen_ai.response.id': (values[0] as ChatCompletionChunk).id,
        'gen_ai.response.finish_reasons': ['stop'],
        'gen_ai.response.time_to_first_chunk': 0.1,
        'gen_ai.usage.input_tokens': usage.input,
        'gen_ai.usage.output_tokens': usage.output,
        'server.address': '127.0.0.1',
        'server.port': port,
        'rxjs_llm_stream.retries': 0,
      });
      expect(span.events).toEqual([]);
      expect(span.status).toEqual({ code: 0 });

      const base = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-test', 'server.address': '127.0.0.1', 'server.port': port };
      const done = { ...base, 'gen_ai.response.model': 'mock-model' };
      expect(await otel.metrics()).toEqual({
        // clock reads: start, one per value, end
        'gen_ai.client.operation.duration': [{ attributes: done, count: 1, sum: round((values.length + 1) * 0.1) }],
        'gen_ai.client.token.usage': [
          { attributes: { ...done, 'gen_ai.token.type': 'input' }, count: 1, sum: usage.input },
          { attributes: { ...done, 'gen_ai.token.type': 'output' }, count: 1, sum: usage.output },
        ],
        'gen_ai.client.operation.time_to_first_chunk': [{ attributes: base, count: 1, sum: 0.1 }],
        'gen_ai.client.operation.time_per_output_chunk': [{ attributes: base, count: values.length - 1, sum: round((values.length - 1) * 0.1) }],
      } satisfies Record<string, Point[]>);
    });

    it('reads snapshots as well as chunks (placed after accumulateContent): the same attributes', async () => {
      server = await startMockChatServer();
      const request = { baseURL: `${server.url}/v1`, body: { model: 'gpt-test', messages } };
      const last = await lastValueFrom(fromChatCompletion(request).pipe(untilDone(), accumulateContent(), telemetry({ api: 'chat.completions', request })));
      const span = onlySpan();
      expect(span.attributes).toMatchObject({
        'gen_ai.response.model': 'mock-model',
        'gen_ai.response.id': last.id,
        'gen_ai.response.finish_reasons': ['stop'],
        'gen_ai.usage.input_tokens': last.usage!.prompt_tokens,
        'gen_ai.usage.output_tokens': last.usage!.completion_tokens,
      });
    });
  });

  it('a retried answer: an event per retry with error type, HTTP status, attempt and delay; a restart event with what was dropped', async () => {
    server = await startMockChatServer({
      script: [{ fault: { kind: 'status', status: 429, retryAfterMs: 30 } }, { fault: { kind: 'drop', afterChunks: 3 } }, {}],
    });
    const request = { baseURL: `${server.url}/v1`, body: { model: 'gpt-test', messages } };
    const seen: number[] = [];
    const values = await lastValueFrom(
      fromChatCompletion(request).pipe(
        untilDone(),
        telemetry({ api: 'chat.completions', request, retry: { initialDelay: 1, jitter: 'none', onRetry: ({ attempt }) => seen.push(attempt) } }),
        toArray(),
      ),
    );
    expect(seen).toEqual([1, 2]); // the user's onRetry still runs
    const span = onlySpan();
    expect(eventsOf(span)).toEqual([
      ['rxjs_llm_stream.retry', { 'error.type': '429', 'http.response.status_code': 429, 'rxjs_llm_stream.attempt': 1, 'rxjs_llm_stream.retry.delay_ms': 30 }],
      ['rxjs_llm_stream.retry', { 'error.type': 'NetworkError', 'rxjs_llm_stream.attempt': 2, 'rxjs_llm_stream.retry.delay_ms': 2 }],
      ['rxjs_llm_stream.restart', { 'rxjs_llm_stream.attempt': 3, 'rxjs_llm_stream.discarded_chunks': 3 }],
    ]);
    const answer = values.slice(3) as ChatCompletionChunk[];
    expect(span.attributes).toMatchObject({
      'rxjs_llm_stream.retries': 2,
      'gen_ai.response.id': answer[0]!.id, // the answer that was kept, not the dropped one
      'gen_ai.usage.output_tokens': usageOf(answer).output,
    });
    expect(span.status).toEqual({ code: 0 });
    const metrics = await otel.metrics();
    expect(metrics['gen_ai.client.operation.duration']!.map((point) => [point.count, point.attributes['error.type']])).toEqual([[1, undefined]]);
    // A new attempt's first value is not an interval between chunks: 2 intervals in the dropped attempt, the rest in the last.
    expect(metrics['gen_ai.client.operation.time_per_output_chunk']![0]!.count).toBe(2 + answer.length - 1);
    expect(metrics['gen_ai.client.operation.time_to_first_chunk']![0]!.count).toBe(1);
  });

  it('a resumed Responses answer: a resume event that keeps every chunk so far, one span, the answer generated once', async () => {
    const scenario: MockScenario = { text: 'A resumed answer: café, 中文, 🚀.', tokenSize: 3 };
    server = await startMockChatServer({ scenario, script: [{ fault: { kind: 'drop', afterChunks: 6, atByte: 9 } }, {}] });
    const request = { baseURL: `${server.url}/v1`, body: { model: 'gpt-test', input: 'x', background: true, store: true } };
    const values = await lastValueFrom(
      fromResponses(request).pipe(untilDone(), telemetry({ api: 'responses', request, retry: { initialDelay: 1, jitter: 'none' } }), toArray()),
    );
    expect(server.requests.map((r) => r.method)).toEqual(['POST', 'GET']);
    const resumedAt = values.findIndex((value, i) => i > 0 && streamStartOf(value)?.resumed === true);
    expect(resumedAt).toBeGreaterThan(0);
    const span = onlySpan();
    expect(span.name).toBe('chat gpt-test');
    expect(eventsOf(span)).toEqual([
      ['rxjs_llm_stream.retry', { 'error.type': 'NetworkError', 'rxjs_llm_stream.attempt': 1, 'rxjs_llm_stream.retry.delay_ms': 1 }],
      ['rxjs_llm_stream.resume', { 'rxjs_llm_stream.attempt': 2, 'rxjs_llm_stream.kept_chunks': resumedAt }],
    ]);
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.response.id': (values[0] as ChatCompletionChunk).id,
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.output_tokens': usageOf(values).output,
      'rxjs_llm_stream.retries': 1,
    });
    const metrics = await otel.metrics();
    expect(metrics['gen_ai.client.operation.time_per_output_chunk']![0]!.count).toBe(values.length - 2);
  });

  it('a Responses answer whose resume point is gone starts over inside one attempt, before any value: no restart event (nothing was dropped)', async () => {
    server = await startMockChatServer();
    const request = {
      baseURL: `${server.url}/v1`,
      body: { model: 'gpt-test', input: 'x', background: true, store: true },
      resumeFrom: { id: 'resp_gone', after: 4 },
    };
    await lastValueFrom(fromResponses(request).pipe(untilDone(), telemetry({ api: 'responses', request })));
    expect(server.requests.map((r) => r.method)).toEqual(['GET', 'POST']);
    const span = onlySpan();
    // The source restarted inside one subscription, before any value: nothing was dropped, so no event.
    expect(eventsOf(span)).toEqual([]);
    expect(span.attributes['gen_ai.response.finish_reasons']).toEqual(['stop']);
  });

  it.each([
    ['anthropic.messages', 'chat', 'anthropic', 'chat claude-test'],
    ['gemini', 'generate_content', 'gcp.gemini', 'generate_content gemini-test'],
  ] as const)('a clean %s answer: operation %s, provider %s, span %s', async (api, operation, provider, name) => {
    server = await startMockChatServer();
    const values = await lastValueFrom(
      (api === 'gemini'
        ? (() => {
            const request = { baseURL: `${server!.url}/v1beta`, apiKey: 'g-key', model: 'models/gemini-test', body: { contents: [] } };
            return fromGeminiContent(request).pipe(untilDone(), telemetry({ api, request }));
          })()
        : (() => {
            const request = { baseURL: `${server!.url}/v1`, apiKey: 'a-key', body: { model: 'claude-test', max_tokens: 100, messages } };
            return fromAnthropicMessages(request).pipe(untilDone(), telemetry({ api, request }));
          })()
      ).pipe(toArray()),
    );
    const span = onlySpan();
    const usage = usageOf(values);
    expect(span.name).toBe(name);
    expect(span.attributes).toEqual({
      'gen_ai.operation.name': operation,
      'gen_ai.provider.name': provider,
      'gen_ai.request.model': name.split(' ')[1],
      'gen_ai.request.stream': true,
      'gen_ai.response.model': (values as ChatCompletionChunk[]).find((chunk) => chunk.model)!.model,
      'gen_ai.response.id': (values[0] as ChatCompletionChunk).id,
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.response.time_to_first_chunk': 0.1,
      'gen_ai.usage.input_tokens': usage.input,
      'gen_ai.usage.output_tokens': usage.output,
      ...(usage.cached === undefined ? {} : { 'gen_ai.usage.cache_read.input_tokens': usage.cached }),
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(server.url).port),
      'rxjs_llm_stream.retries': 0,
    });
    const metrics = await otel.metrics();
    expect(metrics['gen_ai.client.token.usage']!.map((point) => [point.attributes['gen_ai.token.type'], point.sum])).toEqual([
      ['input', usage.input],
      ['output', usage.output],
    ]);
  });

  it('names the provider of an OpenAI-compatible host, and the default host when no baseURL is given', () => {
    const spanOf = (options: WithTelemetryOptions) => {
      otel.spanExporter.reset();
      new Observable<never>((subscriber) => subscriber.complete()).pipe(telemetry(options)).subscribe();
      return onlySpan();
    };
    expect(spanOf({ api: 'chat.completions', provider: 'deepseek', request: { baseURL: 'https://api.deepseek.com/v1', body: { model: 'deepseek-chat' } } }).attributes).toMatchObject({
      'gen_ai.provider.name': 'deepseek',
      'server.address': 'api.deepseek.com',
      'server.port': 443,
    });
    expect(spanOf({ api: 'anthropic.messages' }).attributes).toMatchObject({ 'server.address': 'api.anthropic.com', 'server.port': 443 });
    expect(spanOf({ api: 'gemini', request: { url: 'https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse' } }).attributes).toMatchObject({
      'gen_ai.request.model': 'gemini-2.5-pro',
      'server.address': 'europe-west4-aiplatform.googleapis.com',
    });
  });

  it('an idle timeout: a retry event and an idle_timeout event with the limit', async () => {
    server = await startMockChatServer({ script: [{ fault: { kind: 'stall', afterChunks: 2 } }, {}] });
    const request = { baseURL: `${server.url}/v1`, body: { model: 'gpt-test', messages }, idleTimeout: 300 };
    await lastValueFrom(fromChatCompletion(request).pipe(untilDone(), telemetry({ api: 'chat.completions', request, retry: { initialDelay: 1, jitter: 'none' } })));
    expect(eventsOf(onlySpan())).toEqual([
      ['rxjs_llm_stream.idle_timeout', { 'rxjs_llm_stream.timeout_ms': 300 }],
      ['rxjs_llm_stream.retry', { 'error.type': 'IdleTimeoutError', 'rxjs_llm_stream.attempt': 1, 'rxjs_llm_stream.retry.delay_ms': 1 }],
      ['rxjs_llm_stream.restart', { 'rxjs_llm_stream.attempt': 2, 'rxjs_llm_stream.discarded_chunks': 2 }],
    ]);
  });

  it('a deadline that ends the answer: a deadline event, error status, error.type on the span and on the duration metric', async () => {
    server = await startMockChatServer({ scenario: { fault: { kind: 'stall', afterChunks: 1 } } });
    const request = { baseURL: `${server.url}/v1`, body: { model: 'gpt-test', messages } };
    const failure = await lastValueFrom(
      fromChatCompletion(request).pipe(untilDone(), withDeadline(300), telemetry({ api: 'chat.completions', request, retry: false })),
    ).catch((error: unknown) => error);
    expect((failure as Error).name).toBe('DeadlineExceededError');
    const span = onlySpan();
    expect(eventsOf(span)).toEqual([['rxjs_llm_stream.deadline', { 'rxjs_llm_stream.timeout_ms': 300 }]]);
    expect(span.status).toEqual({ code: 2, message: 'DeadlineExceededError' });
    expect(span.attributes['error.type']).toBe('DeadlineExceededError');
    const metrics = await otel.metrics();
    expect(metrics['gen_ai.client.operation.duration']![0]!.attributes['error.type']).toBe('DeadlineExceededError');
    expect(metrics['gen_ai.client.token.usage']).toBeUndefined();
  });

  it('a final HTTP error: error.type is the status; the message (a server string) is never recorded', async () => {
    server = await startMockChatServer({ scenario: { fault: { kind: 'status', status: 400, message: 'bad request: secret-ish detail' } } });
    const request = { baseURL: `${server.url}/v1`, body: { model: 'gpt-test', messages } };
    const failure = await lastValueFrom(fromChatCompletion(request).pipe(untilDone(), telemetry({ api: 'chat.completions', request }))).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(HttpError);
    const span = onlySpan();
    expect(span.status).toEqual({ code: 2, message: '400' });
    expect(span.attributes['error.type']).toBe('400');
    expect(JSON.stringify([span.attributes, span.events, span.status])).not.toContain('secret-ish');
  });

  it('records the prompt and the answer only when recordContent is set', async () => {
    server = await startMockChatServer({ scenario: { text: 'The answer text.' } });
    const request = { baseURL: `${server.url}/v1`, body: { model: 'gpt-test', messages } };
    await lastValueFrom(fromChatCompletion(request).pipe(untilDone(), telemetry({ api: 'chat.completions', request })));
    const plain = JSON.stringify(otel.spans()[0]!.attributes);
    expect(plain).not.toContain('Say something');
    expect(plain).not.toContain('The answer text');
    otel.spanExporter.reset();
    await lastValueFrom(fromChatCompletion(request).pipe(untilDone(), telemetry({ api: 'chat.completions', request, recordContent: true })));
    const attributes = onlySpan().attributes;
    expect(JSON.parse(attributes['gen_ai.input.messages'] as string)).toEqual(messages);
    expect(JSON.parse(attributes['gen_ai.output.messages'] as string)).toEqual([
      { role: 'assistant', parts: [{ type: 'text', content: 'The answer text.' }], finish_reason: 'stop' },
    ]);
  });

  it('an unsubscribed answer ends its span with a cancelled event, without error status', async () => {
    server = await startMockChatServer({ scenario: { fault: { kind: 'stall', afterChunks: 2 } } });
    const request = { baseURL: `${server.url}/v1`, body: { model: 'gpt-test', messages } };
    await lastValueFrom(fromChatCompletion(request).pipe(untilDone(), telemetry({ api: 'chat.completions', request }), take(2)));
    const span = onlySpan();
    expect(eventsOf(span)).toEqual([['rxjs_llm_stream.cancelled', {}]]);
    expect(span.status).toEqual({ code: 0 });
  });

  it('records time_per_output_chunk for every chunk after the first, chunks of one network read included (0 s apart), as the conventions define it', async () => {
    // Clock reads: the start, one per value, the end. b comes in the same read as a; c and d 0.25 ms later; e 250 ms after d.
    const reads = [0, 100, 100, 100.25, 100.25, 350, 400];
    let read = 0;
    const chunk = (finish: string | null) => ({ id: 'r', model: 'm', choices: [{ index: 0, delta: { content: 'x' }, finish_reason: finish }] });
    const values = [chunk(null), chunk(null), chunk(null), chunk(null), chunk('stop')];
    await lastValueFrom(from(values).pipe(telemetry({ api: 'chat.completions', retry: false, now: () => reads[read++]! }), toArray()));
    expect(read).toBe(reads.length);
    const metrics = await otel.metrics();
    expect(metrics['gen_ai.client.operation.time_to_first_chunk']).toEqual([expect.objectContaining({ count: 1, sum: 0.1 })]);
    // Four intervals for five chunks: 0, 0.00025, 0, 0.24975 s.
    expect(metrics['gen_ai.client.operation.time_per_output_chunk']).toEqual([expect.objectContaining({ count: 4, sum: 0.25 })]);
    expect(metrics['gen_ai.client.operation.duration']).toEqual([expect.objectContaining({ count: 1, sum: 0.4 })]);
  });

  it('traces without metrics (the API no-op meter): the span is whole, and the clock is read only at the start, the first chunk and the end', async () => {
    let reads = 0;
    const values = [1, 2, 3, 4, 5].map((n) => ({ id: 'r', model: 'm', choices: [{ index: 0, delta: { content: String(n) }, finish_reason: n === 5 ? 'stop' : null }] }));
    const now = () => ++reads * 100;
    await lastValueFrom(from(values).pipe(withTelemetry({ api: 'chat.completions', retry: false, tracer: otel.tracer, meter: metrics.getMeter('none'), now }), toArray()));
    expect(reads).toBe(3);
    expect(onlySpan().attributes).toMatchObject({ 'gen_ai.response.time_to_first_chunk': 0.1, 'gen_ai.response.finish_reasons': ['stop'], 'gen_ai.response.id': 'r' });
    expect(await otel.metrics()).toEqual({});
  });

  it('checks its options before any subscription', () => {
    expect(() => withTelemetry({ api: 'chat' as never })).toThrow(TypeError);
    expect(() => withTelemetry({ api: 'responses', retry: { maxRetries: -1 } })).toThrow(RangeError);
    expect(() => withTelemetry({ api: 'responses', recordContent: 'yes' as never })).toThrow(TypeError);
    expect(() => withTelemetry({ api: 'responses', provider: '' })).toThrow(TypeError);
  });

  describe('marbles', () => {
    let rx: TestScheduler;
    beforeEach(() => (rx = new TestScheduler((actual, expected) => expect(actual).toEqual(expected))));

    it('passes values, completion and errors through untouched, retrying as retryWithBackoff does', () => {
      const unavailable = new HttpError(503, 'HTTP 503');
      rx.run(({ cold, expectObservable, expectSubscriptions }) => {
        const first = cold('-a-#', { a: markStreamStart({ n: 1 }, { resumed: false }) }, unavailable);
        const second = cold('-b-c-|', { b: markStreamStart({ n: 2 }, { resumed: true }), c: { n: 3 } });
        let attempts = 0;
        const source = defer(() => (attempts++ === 0 ? first : second));
        const result = source.pipe(telemetry({ api: 'chat.completions', retry: { initialDelay: 5, jitter: 'none' }, now: () => rx.now() }));
        expectObservable(result).toBe('-a-- 4ms -b-c-|', { a: { n: 1 }, b: { n: 2 }, c: { n: 3 } });
        expectSubscriptions(first.subscriptions).toBe('^--!');
        expectSubscriptions(second.subscriptions).toBe('8ms ^----!');
      });
      const span = onlySpan();
      expect(eventsOf(span)).toEqual([
        ['rxjs_llm_stream.retry', { 'error.type': '503', 'http.response.status_code': 503, 'rxjs_llm_stream.attempt': 1, 'rxjs_llm_stream.retry.delay_ms': 5 }],
        ['rxjs_llm_stream.resume', { 'rxjs_llm_stream.attempt': 2, 'rxjs_llm_stream.kept_chunks': 1 }],
      ]);
      expect(span.attributes['gen_ai.response.time_to_first_chunk']).toBe(0.001); // virtual frame 1
    });

    it('with retry: false, the first error ends the span; each subscription has its own span', () => {
      const failure = new IdleTimeoutError(50);
      rx.run(({ cold, expectObservable }) => {
        const source = cold('-a-#', { a: 1 }, failure);
        const result = source.pipe(telemetry({ api: 'gemini', retry: false, now: () => rx.now() }));
        expectObservable(result).toBe('-a-#', { a: 1 }, failure);
        expectObservable(result).toBe('-a-#', { a: 1 }, failure);
      });
      const spans = otel.spans();
      expect(spans).toHaveLength(2);
      for (const span of spans) {
        expect(eventsOf(span)).toEqual([['rxjs_llm_stream.idle_timeout', { 'rxjs_llm_stream.timeout_ms': 50 }]]);
        expect(span.attributes['error.type']).toBe('IdleTimeoutError');
      }
    });
  });

  it('with no SDK registered (the API no-ops), values and retries pass straight through; an SDK registered later is used by the next answer', async () => {
    let calls = 0;
    const source = new Observable<number>((subscriber) => {
      if (++calls % 2 === 1) subscriber.error(new HttpError(503, 'x'));
      else subscriber.next(calls), subscriber.complete();
    });
    const retries: number[] = [];
    const pipeline = source.pipe(withTelemetry({ api: 'chat.completions', retry: { initialDelay: 1, jitter: 'none', onRetry: ({ attempt }) => retries.push(attempt) } }));
    expect(await lastValueFrom(pipeline.pipe(toArray()))).toEqual([2]);
    expect(retries).toEqual([1]);
    expect(otel.spans()).toEqual([]);
    trace.setGlobalTracerProvider({ getTracer: () => otel.tracer });
    metrics.setGlobalMeterProvider({ getMeter: () => otel.meter });
    try {
      expect(await lastValueFrom(pipeline.pipe(toArray()))).toEqual([4]);
    } finally {
      trace.disable();
      metrics.disable();
    }
    expect(eventsOf(onlySpan())).toEqual([['rxjs_llm_stream.retry', { 'error.type': '503', 'http.response.status_code': 503, 'rxjs_llm_stream.attempt': 1, 'rxjs_llm_stream.retry.delay_ms': 1 }]]);
    expect((await otel.metrics())['gen_ai.client.operation.duration']![0]!.count).toBe(1);
  });

  it('a concurrent second subscription of the same pipeline gets its own span and its own retries', async () => {
    let calls = 0;
    const source = new Observable<number>((subscriber) => {
      if (++calls === 1) subscriber.error(new HttpError(503, 'x'));
      else subscriber.next(calls), subscriber.complete();
    });
    const pipeline = source.pipe(telemetry({ api: 'chat.completions', retry: { initialDelay: 1, jitter: 'none' } }));
    await Promise.all([lastValueFrom(pipeline), lastValueFrom(pipeline)]);
    const spans = otel.spans();
    expect(spans).toHaveLength(2);
    expect(spans.map((span) => span.events.length).sort()).toEqual([0, 1]);
  });
});

const round = (value: number) => Math.round(value * 1e6) / 1e6;
