import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { accumulateContent, ApiError, DONE, fromAnthropicMessages, HttpError, isRetryable, ParseError, untilDone, type ChatCompletionChunk } from '../src/index.js';
import { serveFixed, sseHeaders, startLoopbackServer, writeApart, type LoopbackServer } from './support/loopbackServer';


const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8');
const body = { model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user', content: 'Weather in Oslo?' }] } as const;
const KEY = 'sk-ant-secret-key-42';

describe('fromAnthropicMessages', () => {
  let server: LoopbackServer;
  afterEach(() => server?.close());

  const serveText = async (text: string, status?: number, headers?: Record<string, string>) => {
    server = await serveFixed(text, status, headers);
    return `${server.url}/v1`;
  };

  it('posts the native body with stream: true, x-api-key and anthropic-version', async () => {
    const baseURL = await serveText(fixture('anthropic-tool-use.sse'));
    await lastValueFrom(fromAnthropicMessages({ baseURL, apiKey: KEY, body }).pipe(toArray()));
    const [request] = server.requests;
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe('/v1/messages');
    expect(request!.headers['x-api-key']).toBe(KEY);
    expect(request!.headers['anthropic-version']).toBe('2023-06-01');
    expect(request!.headers.authorization).toBeUndefined();
    expect(JSON.parse(request!.body)).toEqual({ ...body, stream: true });
  });

  it('overrides anthropic-version', async () => {
    const baseURL = await serveText(fixture('anthropic-tool-use.sse'));
    await lastValueFrom(fromAnthropicMessages({ baseURL, body, anthropicVersion: '2024-01-01' }).pipe(toArray()));
    expect(server.requests[0]!.headers['anthropic-version']).toBe('2024-01-01');
  });

  it('maps message_start, thinking, text, tool_use blocks, message_delta and message_stop to normalized chunks', async () => {
    const baseURL = await serveText(fixture('anthropic-tool-use.sse'));
    const events = await lastValueFrom(fromAnthropicMessages({ baseURL, body }).pipe(toArray()));
    expect(events.at(-1)).toBe(DONE);
    const chunks = events.slice(0, -1) as ChatCompletionChunk[];
    expect(chunks.every((chunk) => chunk.id === 'msg_01Fixture' && chunk.model === 'claude-sonnet-4-5')).toBe(true);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    const toolDeltas = chunks.flatMap((chunk) => chunk.choices[0]!.delta.tool_calls ?? []);
    expect(toolDeltas[0]).toEqual({ index: 0, id: 'toolu_01A', type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(toolDeltas.filter((delta) => delta.index === 1)[0]).toMatchObject({ id: 'toolu_01B', function: { name: 'get_time' } });
    const last = chunks.at(-1)!;
    expect(last.choices[0]!.finish_reason).toBe('tool_calls');
    expect(last.usage).toMatchObject({ prompt_tokens: 35, completion_tokens: 42, total_tokens: 77, input_tokens: 25, cache_read_input_tokens: 10, prompt_tokens_details: { cached_tokens: 10 } });
  });

  it('feeds accumulateContent: text, reasoning, tool calls by tool order', async () => {
    const baseURL = await serveText(fixture('anthropic-tool-use.sse'));
    const snapshot = await lastValueFrom(fromAnthropicMessages({ baseURL, body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.content).toBe('Checking Oslo for you: ☔ 中文');
    expect(snapshot.reasoning).toBe('The user wants the weather.');
    expect(snapshot.toolCalls).toEqual([
      { index: 0, id: 'toolu_01A', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
      { index: 1, id: 'toolu_01B', type: 'function', function: { name: 'get_time', arguments: '{"tz":"Europe/Oslo"}' } },
    ]);
    expect(snapshot.finishReason).toBe('tool_calls');
    expect(snapshot.id).toBe('msg_01Fixture');
  });

  it('gives "{}" for a tool without parameters, the start input for a whole input, and the fragments joined otherwise', async () => {
    const baseURL = await serveText(fixture('anthropic-tool-no-args.sse'));
    const snapshot = await lastValueFrom(fromAnthropicMessages({ baseURL, body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.toolCalls.map((call) => [call.id, call.function.name, call.function.arguments])).toEqual([
      ['toolu_01NoArgs', 'list_themes', '{}'],
      ['toolu_01Whole', 'roll_die', '{"player":"p1","sides":6}'],
      ['toolu_01Streamed', 'get_time', '{"tz":"UTC"}'],
    ]);
    expect(snapshot.content).toBe('Let me look.');
    expect(snapshot.finishReason).toBe('tool_calls');
  });

  it('sends a call without argument text at content_block_stop, once, so the fold never joins "{}" with fragments', async () => {
    const baseURL = await serveText(fixture('anthropic-tool-no-args.sse'));
    const events = await lastValueFrom(fromAnthropicMessages({ baseURL, body }).pipe(toArray()));
    const chunks = events.slice(0, -1) as ChatCompletionChunk[];
    const argumentsOf = (index: number) =>
      chunks.flatMap((chunk) => chunk.choices[0]!.delta.tool_calls ?? []).filter((delta) => delta.index === index).map((delta) => delta.function?.arguments);
    expect(argumentsOf(0)).toEqual(['', '{}']);
    expect(argumentsOf(1)).toEqual(['', '{"player":"p1","sides":6}']);
    expect(argumentsOf(2)).toEqual(['', '{"tz":', '"UTC"}']);
  });

  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'],
    ['pause_turn', 'pause_turn'],
    ['__proto__', '__proto__'],
    ['constructor', 'constructor'],
    ['toString', 'toString'],
  ])('maps stop_reason %s to finish_reason %s', async (stopReason, finishReason) => {
    const text = fixture('anthropic-tool-use.sse').replace('"stop_reason":"tool_use"', `"stop_reason":"${stopReason}"`);
    const baseURL = await serveText(text);
    const snapshot = await lastValueFrom(fromAnthropicMessages({ baseURL, body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.finishReason).toBe(finishReason);
  });

  it('turns event: error into a retryable ApiError for overloaded_error', async () => {
    const baseURL = await serveText(fixture('anthropic-overloaded.sse'));
    const error = await lastValueFrom(fromAnthropicMessages({ baseURL, body, apiKey: KEY }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ type: 'overloaded_error', retryable: true });
    expect((error as Error).message).toContain('Overloaded');
  });

  it('treats invalid_request_error in the stream as not retryable', async () => {
    const text = fixture('anthropic-overloaded.sse').replace('overloaded_error', 'invalid_request_error');
    const baseURL = await serveText(text);
    const error = await lastValueFrom(fromAnthropicMessages({ baseURL, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(isRetryable(error)).toBe(false);
  });

  it('gives an HttpError with the provider message and Retry-After for an HTTP error body', async () => {
    const baseURL = await serveText(
      JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your rate limit.' } }),
      429,
      { 'content-type': 'application/json', 'retry-after': '7' },
    );
    const error = await lastValueFrom(fromAnthropicMessages({ baseURL, body, apiKey: KEY }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 7000, retryable: true });
    expect((error as Error).message).toContain('Number of request tokens has exceeded your rate limit');
    expect(JSON.stringify(error) + String(error) + (error as Error).stack).not.toContain(KEY);
  });

  it('honours retry-after-ms for a 529 overloaded body', async () => {
    const baseURL = await serveText(JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }), 529, {
      'content-type': 'application/json',
      'retry-after-ms': '1250',
    });
    const error = await lastValueFrom(fromAnthropicMessages({ baseURL, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 529, retryAfterMs: 1250, retryable: true });
  });

  it('ends without DONE when the body stops before message_stop, so untilDone reports it', async () => {
    const cut = fixture('anthropic-tool-use.sse').split('event: message_delta')[0]!;
    const baseURL = await serveText(cut);
    const error = await lastValueFrom(fromAnthropicMessages({ baseURL, body }).pipe(untilDone(), accumulateContent())).catch((e: unknown) => e);
    expect((error as Error).name).toBe('StreamInterruptedError');
  });

  it('gives the same answer when the bytes arrive 7 at a time with CRLF line endings (split inside UTF-8 and CRLF)', async () => {
    const bytes = Buffer.from(fixture('anthropic-tool-use.sse').replace(/\n/g, '\r\n'), 'utf8');
    const parts: Buffer[] = [];
    for (let offset = 0; offset < bytes.length; offset += 7) parts.push(bytes.subarray(offset, offset + 7));
    server = await startLoopbackServer(async (_request, response) => {
      sseHeaders(response);
      await writeApart(response, parts, 0);
      response.end();
    });
    const snapshot = await lastValueFrom(fromAnthropicMessages({ baseURL: `${server.url}/v1`, body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.content).toBe('Checking Oslo for you: ☔ 中文');
    expect(snapshot.reasoning).toBe('The user wants the weather.');
    expect(snapshot.toolCalls.map((call) => call.function.arguments)).toEqual(['{"city":"Oslo"}', '{"tz":"Europe/Oslo"}']);
  });

  it('keeps server tools (server_tool_use, web_search_tool_result), citations and redacted thinking out of the tool calls and text', async () => {
    const baseURL = await serveText(fixture('anthropic-web-search.sse'));
    const snapshot = await lastValueFrom(fromAnthropicMessages({ baseURL, body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.toolCalls).toEqual([]);
    expect(snapshot.content).toBe('Rain in Oslo today.');
    expect(snapshot.reasoning).toBe('');
    expect(snapshot.finishReason).toBe('stop');
    expect(snapshot.usage).toMatchObject({ prompt_tokens: 40, completion_tokens: 12, total_tokens: 52 });
  });

  it('overwrites cumulative usage from several message_delta events instead of adding', async () => {
    const text = fixture('anthropic-tool-use.sse').replace(
      'event: message_delta\n',
      'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":null},"usage":{"output_tokens":30}}\n\nevent: message_delta\n',
    );
    const baseURL = await serveText(text);
    const snapshot = await lastValueFrom(fromAnthropicMessages({ baseURL, body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.usage).toMatchObject({ completion_tokens: 42, output_tokens: 42, total_tokens: 77 });
    expect(snapshot.finishReason).toBe('tool_calls');
  });

  it.each(['null', '42', '["message_stop"]'])('fails with ParseError for a JSON payload that is not an event object: %s', async (payload) => {
    const baseURL = await serveText(`event: content_block_delta\ndata: ${payload}\n\n`);
    const error = await lastValueFrom(fromAnthropicMessages({ baseURL, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParseError);
    expect(isRetryable(error)).toBe(false);
  });

  it('closes the connection at message_stop when untilDone completes, though the server keeps it open', async () => {
    server = await startLoopbackServer((_request, response) => {
      sseHeaders(response);
      response.write(fixture('anthropic-tool-use.sse'));
    });
    await lastValueFrom(fromAnthropicMessages({ baseURL: `${server.url}/v1`, body }).pipe(untilDone(), accumulateContent()));
    let timer: NodeJS.Timeout | undefined;
    const closedAt = await Promise.race([server.requests[0]!.closed, new Promise<string>((resolve) => (timer = setTimeout(resolve, 2000, 'still open')))]);
    clearTimeout(timer);
    expect(typeof closedAt).toBe('number');
  });

  it.each([
    [{ body: undefined }, TypeError],
    [{ body, anthropicVersion: '' }, TypeError],
    [{ body, baseURL: 'ftp://x' }, TypeError],
    [{ body, apiKey: '' }, TypeError],
    [{ body, apiKey: 'a\nb' }, TypeError],
    [{ body, anthropicVersion: 'x\r\ny' }, TypeError],
    [{ body, idleTimeout: -1 }, RangeError],
  ])('rejects bad options before any request: %j', (options, type) => {
    expect(() => fromAnthropicMessages(options as never)).toThrow(type);
  });
});
