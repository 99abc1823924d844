import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastValueFrom, take, toArray } from 'rxjs';
import {
  accumulateContent,
  ApiError,
  DONE,
  fromResponses,
  HttpError,
  isRetryable,
  streamStartOf,
  StreamInterruptedError,
  untilDone,
  type ChatCompletionChunk,
  type ChatCompletionEvent,
} from '../src/index.js';
import { serveFixed, sseHeaders, startLoopbackServer, waitFor, type LoopbackServer } from './support/loopbackServer';

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8');
const body = { model: 'gpt-5-mini', input: 'Weather in Oslo?' };
const KEY = 'sk-responses-secret-42';

const chunksOf = (events: ChatCompletionEvent[]) => events.filter((event): event is ChatCompletionChunk => event !== DONE);

describe('fromResponses', () => {
  let server: LoopbackServer;
  afterEach(() => server?.close());

  const serveText = async (text: string, status?: number, headers?: Record<string, string>) => {
    server = await serveFixed(text, status, headers);
    return `${server.url}/v1`;
  };

  it('posts the body with stream: true and the key as a Bearer token to {baseURL}/responses', async () => {
    const baseURL = await serveText(fixture('responses-reasoning-text-tool.sse'));
    await lastValueFrom(fromResponses({ baseURL, apiKey: KEY, body }).pipe(toArray()));
    const [request] = server.requests;
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe('/v1/responses');
    expect(request!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(request!.headers.accept).toBe('text/event-stream');
    expect(JSON.parse(request!.body)).toEqual({ ...body, stream: true });
  });

  it('posts to options.url when given, keeping its query', async () => {
    await serveText(fixture('responses-reasoning-text-tool.sse'));
    await lastValueFrom(fromResponses({ url: `${server.url}/openai/v1/responses?api-version=preview`, body }).pipe(toArray()));
    expect(server.requests[0]!.path).toBe('/openai/v1/responses?api-version=preview');
  });

  it('normalises reasoning summaries, text, and function calls by output_index; server tools, annotations, keepalive and unknown events give nothing', async () => {
    const baseURL = await serveText(fixture('responses-reasoning-text-tool.sse'));
    const events = await lastValueFrom(fromResponses({ baseURL, body }).pipe(toArray()));
    expect(events.at(-1)).toBe(DONE);
    const chunks = chunksOf(events);
    expect(chunks.every((chunk) => chunk.id === 'resp_fixture_1' && chunk.model === 'gpt-5-mini')).toBe(true);
    expect(chunks.map((chunk) => chunk.choices[0]!.delta)).toEqual([
      { role: 'assistant' },
      { reasoning_content: '**Plan** ' },
      { reasoning_content: 'check Oslo.' },
      { content: 'Checking ' },
      { content: 'Oslo: café ☔ 中文' },
      { tool_calls: [{ index: 0, id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] },
      {},
    ]);
    const last = chunks.at(-1)!;
    expect(last.choices[0]!.finish_reason).toBe('tool_calls');
    expect(last.usage).toMatchObject({
      prompt_tokens: 25,
      completion_tokens: 42,
      total_tokens: 67,
      prompt_tokens_details: { cached_tokens: 10 },
      completion_tokens_details: { reasoning_tokens: 16 },
    });
  });

  it('feeds accumulateContent: the whole snapshot', async () => {
    const baseURL = await serveText(fixture('responses-reasoning-text-tool.sse'));
    const snapshot = await lastValueFrom(fromResponses({ baseURL, body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot).toMatchObject({
      id: 'resp_fixture_1',
      content: 'Checking Oslo: café ☔ 中文',
      reasoning: '**Plan** check Oslo.',
      refusal: '',
      finishReason: 'tool_calls',
      toolCalls: [{ index: 0, id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }],
    });
  });

  it('keys state by output_index when item and response ids rotate (Copilot); *.done supplies text and arguments no delta brought', async () => {
    const baseURL = await serveText(fixture('responses-rotating-ids-done-only.sse'));
    const events = await lastValueFrom(fromResponses({ baseURL, body }).pipe(toArray()));
    expect(chunksOf(events).every((chunk) => chunk.id === 'rot-0')).toBe(true);
    const snapshot = await lastValueFrom(fromResponses({ baseURL, body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.content).toBe('Two calls.');
    expect(snapshot.reasoning).toBe('Raw thought only in done.');
    expect(snapshot.toolCalls).toEqual([
      { index: 0, id: 'call_B', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } },
      { index: 1, id: 'call_C', type: 'function', function: { name: 'noop', arguments: '{}' } },
    ]);
    expect(snapshot.finishReason).toBe('tool_calls');
    expect(snapshot.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 });
  });

  it('maps refusal deltas to refusal and response.incomplete to its reason', async () => {
    const baseURL = await serveText(fixture('responses-refusal-incomplete.sse'));
    const snapshot = await lastValueFrom(fromResponses({ baseURL, body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.refusal).toBe("I can't help with that.");
    expect(snapshot.content).toBe('');
    expect(snapshot.finishReason).toBe('content_filter');
  });

  it.each([
    ['"reason":"max_output_tokens"', 'length'],
    ['"reason":"content_filter"', 'content_filter'],
    ['"reason":"some_new_reason"', 'some_new_reason'],
  ])('maps incomplete_details %s to finish_reason %s', async (reason, finishReason) => {
    const baseURL = await serveText(fixture('responses-refusal-incomplete.sse').replace('"reason":"content_filter"', reason));
    const snapshot = await lastValueFrom(fromResponses({ baseURL, body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.finishReason).toBe(finishReason);
  });

  it('completes at the terminal event, even when the server keeps the connection open', async () => {
    const text = fixture('responses-refusal-incomplete.sse');
    server = await startLoopbackServer((_request, response) => {
      sseHeaders(response);
      response.write(text);
    });
    const events = await lastValueFrom(fromResponses({ baseURL: `${server.url}/v1`, body }).pipe(toArray()));
    expect(events.at(-1)).toBe(DONE);
    await server.requests[0]!.closed;
  });

  it('accepts no [DONE] and a trailing [DONE] alike', async () => {
    const withoutDone = fixture('responses-reasoning-text-tool.sse').replace('data: [DONE]\n\n', '');
    const baseURL = await serveText(withoutDone);
    const events = await lastValueFrom(fromResponses({ baseURL, body }).pipe(toArray()));
    expect(events.filter((event) => event === DONE)).toHaveLength(1);
  });

  it('completes without DONE when the body ends before a terminal event, so untilDone reports the cut', async () => {
    const cut = fixture('responses-reasoning-text-tool.sse').split('event: response.output_item.added\ndata: {"type":"response.output_item.added","sequence_number":16')[0]!;
    const baseURL = await serveText(cut);
    const events = await lastValueFrom(fromResponses({ baseURL, body }).pipe(toArray()));
    expect(events).not.toContain(DONE);
    const error = await lastValueFrom(fromResponses({ baseURL, body }).pipe(untilDone(), accumulateContent())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamInterruptedError);
  });

  it('turns a nested error event into a retryable ApiError for a server error', async () => {
    const baseURL = await serveText(fixture('responses-error-nested.sse'));
    const error = await lastValueFrom(fromResponses({ baseURL, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ type: 'server_error', code: 'server_error' });
    expect((error as Error).message).toContain('The server had an error while processing your request.');
    expect(isRetryable(error)).toBe(true);
  });

  it('reads a flat error event field by field, the event type not taken for the error type', async () => {
    const baseURL = await serveText(fixture('responses-error-flat.sse'));
    const error = await lastValueFrom(fromResponses({ baseURL, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'invalid_prompt', param: 'input', type: undefined });
    expect((error as Error).message).toContain('Your prompt was flagged.');
    expect(isRetryable(error)).toBe(false);
  });

  it('turns response.failed into an ApiError from response.error, retryable for a rate limit', async () => {
    const baseURL = await serveText(fixture('responses-failed.sse'));
    const error = await lastValueFrom(fromResponses({ baseURL, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'rate_limit_exceeded' });
    expect((error as Error).message).toContain('Too many tokens in flight.');
    expect(isRetryable(error)).toBe(true);
  });

  it('reports a non-2xx answer as an HttpError', async () => {
    const baseURL = await serveText('{"error":{"message":"Rate limit reached","type":"rate_limit_exceeded"}}', 429, { 'content-type': 'application/json', 'retry-after': '2' });
    const error = await lastValueFrom(fromResponses({ baseURL, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 2000 });
  });

  it('keeps a provider message readable with a one-letter key, redacting the key where it stands alone', async () => {
    const baseURL = await serveText('event: error\ndata: {"type":"error","error":{"message":"Please check your key k and retry."}}\n\n');
    const error = await lastValueFrom(fromResponses({ baseURL, apiKey: 'k', body }).pipe(toArray())).catch((e: unknown) => e);
    expect((error as Error).message).toContain('Please check your key [redacted] and retry.');
  });

  it('marks the first chunk of a subscription as a fresh start, with a token per response', async () => {
    const baseURL = await serveText(fixture('responses-reasoning-text-tool.sse'));
    const source = fromResponses({ baseURL, body });
    const first = await lastValueFrom(source.pipe(toArray()));
    const second = await lastValueFrom(source.pipe(toArray()));
    const [a, b] = [streamStartOf(first[0]), streamStartOf(second[0])];
    expect(a).toMatchObject({ resumed: false });
    expect(b).toMatchObject({ resumed: false });
    expect(a!.stream).toBeDefined();
    expect(a!.stream).not.toBe(b!.stream);
    expect(first.slice(1).map(streamStartOf).every((start) => start === undefined)).toBe(true);
  });

  it('reports the response id once', async () => {
    const baseURL = await serveText(fixture('responses-reasoning-text-tool.sse'));
    const ids: string[] = [];
    await lastValueFrom(fromResponses({ baseURL, body, onResponseId: (id) => ids.push(id) }).pipe(toArray()));
    expect(ids).toEqual(['resp_fixture_1']);
  });

  it('aborts the request on unsubscribe, and sends no cancel for a response that is not in the background', async () => {
    server = await startLoopbackServer((_request, response) => {
      sseHeaders(response);
      response.write(fixture('responses-reasoning-text-tool.sse').split('event: response.output_text.delta')[0]);
    });
    const subscription = fromResponses({ baseURL: `${server.url}/v1`, body }).subscribe();
    await waitFor(() => server.requests.length === 1);
    subscription.unsubscribe();
    await server.requests[0]!.closed;
    expect(server.requests.map((request) => request.path)).toEqual(['/v1/responses']);
  });

  it('takes values and stops early without a cancel when not in the background', async () => {
    const baseURL = await serveText(fixture('responses-reasoning-text-tool.sse'));
    const values = await lastValueFrom(fromResponses({ baseURL, body }).pipe(take(2), toArray()));
    expect(values).toHaveLength(2);
    expect(server.requests).toHaveLength(1);
  });

  describe('bad options fail before any request', () => {
    it.each([
      ['no options', undefined, TypeError],
      ['no body', { baseURL: 'http://127.0.0.1:9/v1' }, TypeError],
      ['a bad baseURL', { baseURL: 'ftp://x', body }, TypeError],
      ['an empty key', { apiKey: '', body }, TypeError],
      ['a key with a line break', { apiKey: 'a\nb', body }, TypeError],
      ['cancelOnUnsubscribe not a boolean', { body, cancelOnUnsubscribe: 'no' }, TypeError],
      ['onResponseId not a function', { body, onResponseId: 'x' }, TypeError],
      ['resumeFrom without an id', { body, resumeFrom: { after: 3 } }, TypeError],
      ['resumeFrom.after negative', { body, resumeFrom: { id: 'resp_1', after: -1 } }, RangeError],
      ['resumeFrom.after not an integer', { body, resumeFrom: { id: 'resp_1', after: 1.5 } }, RangeError],
      ['a negative idleTimeout', { body, idleTimeout: -1 }, RangeError],
    ])('%s', (_name, options, errorClass) => {
      expect(() => fromResponses(options as never)).toThrow(errorClass);
    });
  });
});
