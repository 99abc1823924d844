import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastValueFrom, take, toArray } from 'rxjs';
import { accumulateContent, ApiError, DONE, fromGeminiContent, HttpError, ParseError, StreamInterruptedError, untilDone, type ChatCompletionChunk } from '../src/index.js';
import { serveFixed, sseHeaders, startLoopbackServer, writeApart, type LoopbackServer } from './support/loopbackServer';

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8');
const body = { contents: [{ role: 'user', parts: [{ text: 'Weather in Oslo?' }] }] } as const;
const KEY = 'AIza-secret-key-42';

describe('fromGeminiContent', () => {
  let server: LoopbackServer;
  afterEach(() => server?.close());

  const serveText = async (text: string, status?: number, headers?: Record<string, string>) => {
    server = await serveFixed(text, status, headers);
    return `${server.url}/v1beta`;
  };

  it('posts the native body to models/{model}:streamGenerateContent?alt=sse with x-goog-api-key', async () => {
    const baseURL = await serveText(fixture('gemini-function-call.sse'));
    await lastValueFrom(fromGeminiContent({ baseURL, apiKey: KEY, model: 'models/gemini-2.5-flash', body }).pipe(toArray()));
    const [request] = server.requests;
    expect(request!.path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    expect(request!.headers['x-goog-api-key']).toBe(KEY);
    expect(JSON.parse(request!.body)).toEqual(body);
  });

  it('maps thought parts, text, a functionCall, finishReason and usageMetadata, then emits DONE at the end of the body', async () => {
    const baseURL = await serveText(fixture('gemini-function-call.sse'));
    const events = await lastValueFrom(fromGeminiContent({ baseURL, model: 'gemini-2.5-flash', body }).pipe(toArray()));
    expect(events.at(-1)).toBe(DONE);
    const chunks = events.slice(0, -1) as ChatCompletionChunk[];
    expect(chunks).toHaveLength(3);
    expect(chunks.every((chunk) => chunk.id === 'resp_Fixture1' && chunk.model === 'gemini-2.5-flash')).toBe(true);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', reasoning_content: 'Thinking about Oslo.' });
    expect(chunks[2]!.choices[0]!.delta.tool_calls).toEqual([
      { index: 0, id: 'resp_Fixture1-call-0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo","days":2}' } },
    ]);
    expect(chunks[2]!.choices[0]!.finish_reason).toBe('tool_calls');
    expect(chunks[2]!.usage).toEqual({
      prompt_tokens: 7,
      completion_tokens: 13,
      total_tokens: 20,
      prompt_tokens_details: { cached_tokens: 3 },
      completion_tokens_details: { reasoning_tokens: 4 },
    });
  });

  it('feeds accumulateContent through untilDone', async () => {
    const baseURL = await serveText(fixture('gemini-function-call.sse'));
    const snapshot = await lastValueFrom(fromGeminiContent({ baseURL, model: 'gemini-2.5-flash', body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.content).toBe('The sky is blue ☀️ 中文.');
    expect(snapshot.reasoning).toBe('Thinking about Oslo.');
    expect(snapshot.toolCalls.map((call) => call.function)).toEqual([{ name: 'get_weather', arguments: '{"city":"Oslo","days":2}' }]);
    expect(snapshot.finishReason).toBe('tool_calls');
    expect(snapshot.usage?.total_tokens).toBe(20);
  });

  it.each([
    ['STOP', 'stop'],
    ['MAX_TOKENS', 'length'],
    ['SAFETY', 'content_filter'],
    ['RECITATION', 'content_filter'],
    ['MALFORMED_FUNCTION_CALL', 'malformed_function_call'],
    ['__proto__', '__proto__'],
    ['constructor', 'constructor'],
    ['toString', 'tostring'],
  ])('maps finishReason %s to %s', async (reason, expected) => {
    const text = fixture('gemini-function-call.sse').replace(/,\{"functionCall":[^\]]*\}\}/, '').replace('"finishReason":"STOP"', `"finishReason":"${reason}"`);
    const baseURL = await serveText(text);
    const snapshot = await lastValueFrom(fromGeminiContent({ baseURL, model: 'm', body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.toolCalls).toEqual([]);
    expect(snapshot.finishReason).toBe(expected);
  });

  describe('streamed function-call arguments (Vertex willContinue / partialArgs)', () => {
    const run = async (text: string) => {
      const baseURL = await serveText(text);
      return lastValueFrom(fromGeminiContent({ baseURL, model: 'm', body }).pipe(untilDone(), accumulateContent()));
    };

    it('assembles each call from its partialArgs, nested paths included, and gives "{}" to a call without arguments', async () => {
      const snapshot = await run(fixture('gemini-streamed-args.sse'));
      expect(snapshot.toolCalls.map((call) => [call.index, call.id, call.function.name, JSON.parse(call.function.arguments)])).toEqual([
        [0, 'resp_Streamed-call-0', 'plan_trip', { city: 'San Francisco', days: 3, stops: [{ name: 'Pier 39', open: true }, { name: 'Alcatraz', note: null }] }],
        [1, 'resp_Streamed-call-1', 'get_weather', { location: 'Oslo' }],
        [2, 'resp_Streamed-call-2', 'read_theme', {}],
      ]);
      expect(snapshot.toolCalls[2]!.function.arguments).toBe('{}');
      expect(snapshot.finishReason).toBe('tool_calls');
    });

    it('sends name and id when the call opens and the arguments once, whole, when it closes', async () => {
      const baseURL = await serveText(fixture('gemini-streamed-args.sse'));
      const events = await lastValueFrom(fromGeminiContent({ baseURL, model: 'm', body }).pipe(toArray()));
      const deltas = (events.slice(0, -1) as ChatCompletionChunk[]).map((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
      expect(deltas[0]).toEqual([{ index: 0, id: 'resp_Streamed-call-0', type: 'function', function: { name: 'plan_trip', arguments: '' } }]);
      expect(deltas.slice(1, 4)).toEqual([[], [], []]);
      expect(deltas[4]).toEqual([{ index: 0, function: { arguments: expect.stringContaining('"city":"San Francisco"') } }]);
    });

    it('closes a call still open when the finishReason comes', async () => {
      const text = fixture('gemini-streamed-args.sse').split('\n\n').slice(0, 4).join('\n\n') +
        '\n\ndata: {"candidates":[{"content":{"role":"model","parts":[]},"finishReason":"STOP"}],"responseId":"resp_Streamed"}\n\n';
      const snapshot = await run(text);
      expect(snapshot.toolCalls).toHaveLength(1);
      expect(JSON.parse(snapshot.toolCalls[0]!.function.arguments)).toMatchObject({ city: 'San Francisco', days: 3 });
    });

    it('applies partialArgs that come with the opening part', async () => {
      const text =
        `data: {"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","willContinue":true,"partialArgs":[{"jsonPath":"$.q","stringValue":"ab","willContinue":true}]}}]}}],"responseId":"r"}\n\n` +
        `data: {"candidates":[{"content":{"parts":[{"functionCall":{"partialArgs":[{"jsonPath":"$.q","stringValue":"c"}]}}]},"finishReason":"STOP"}]}\n\n`;
      const snapshot = await run(text);
      expect(snapshot.toolCalls.map((call) => call.function.arguments)).toEqual(['{"q":"abc"}']);
    });

    it('keeps a "__proto__" path an own key and ignores a path that does not fit the value so far', async () => {
      const piece = (partialArgs: unknown[]) => `data: ${JSON.stringify({ candidates: [{ content: { parts: [{ functionCall: { partialArgs, willContinue: true } }] } }] })}\n\n`;
      const text =
        `data: {"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","willContinue":true}}]}}],"responseId":"r"}\n\n` +
        piece([{ jsonPath: '$.__proto__.polluted', stringValue: 'yes' }]) +
        piece([{ jsonPath: '$.list[0]', numberValue: 1 }, { jsonPath: '$.list[5]', numberValue: 2 }, { jsonPath: '$.list.__proto__', stringValue: 'x' }]) +
        piece([{ jsonPath: 'location', stringValue: 'no $' }, { jsonPath: '$.s', stringValue: 'a' }, { jsonPath: '$.s.t', boolValue: true }]) +
        `data: {"candidates":[{"content":{"parts":[{"functionCall":{}}]},"finishReason":"STOP"}]}\n\n`;
      const snapshot = await run(text);
      expect(snapshot.toolCalls[0]!.function.arguments).toBe('{"__proto__":{"polluted":"yes"},"list":[1],"s":"a"}');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  it('emits nothing extra when the body ends without a finishReason, so untilDone reports the cut', async () => {
    const cut = fixture('gemini-function-call.sse').split('\r\n\r\n').slice(0, 2).join('\r\n\r\n') + '\r\n\r\n';
    const baseURL = await serveText(cut);
    const events = await lastValueFrom(fromGeminiContent({ baseURL, model: 'm', body }).pipe(toArray()));
    expect(events).not.toContain(DONE);
    const error = await lastValueFrom(fromGeminiContent({ baseURL, model: 'm', body }).pipe(untilDone(), accumulateContent())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamInterruptedError);
  });

  it('ends a blocked prompt with a clear, non-retryable ApiError', async () => {
    const baseURL = await serveText(fixture('gemini-blocked.sse'));
    const error = await lastValueFrom(fromGeminiContent({ baseURL, model: 'm', body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ type: 'prompt_blocked', code: 'SAFETY', retryable: false });
    expect((error as Error).message).toMatch(/blocked the prompt \(SAFETY\)/);
  });

  it('turns a mid-stream error chunk into a retryable ApiError', async () => {
    const first = fixture('gemini-function-call.sse').split('\r\n\r\n')[0];
    const baseURL = await serveText(`${first}\r\n\r\ndata: {"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}\r\n\r\n`);
    const error = await lastValueFrom(fromGeminiContent({ baseURL, model: 'm', body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ type: 'UNAVAILABLE', retryable: true });
  });

  it('gives an HttpError with the provider message and Retry-After for an HTTP error body', async () => {
    const baseURL = await serveText(JSON.stringify({ error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' } }), 429, {
      'content-type': 'application/json',
      'retry-after': '3',
    });
    const error = await lastValueFrom(fromGeminiContent({ baseURL, model: 'm', apiKey: KEY, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 3000, retryable: true });
    expect((error as Error).message).toContain('Resource has been exhausted');
    expect(JSON.stringify(error) + String(error) + (error as Error).stack).not.toContain(KEY);
  });

  it('makes up a stable id per subscription when responseId is missing, so a retry starts a new snapshot', async () => {
    const text = fixture('gemini-function-call.sse').replace(/,"responseId":"resp_Fixture1"/g, '');
    const baseURL = await serveText(text);
    const source = fromGeminiContent({ baseURL, model: 'm', body });
    const first = (await lastValueFrom(source.pipe(toArray()))).slice(0, -1) as ChatCompletionChunk[];
    const second = (await lastValueFrom(source.pipe(toArray()))).slice(0, -1) as ChatCompletionChunk[];
    expect(new Set(first.map((chunk) => chunk.id)).size).toBe(1);
    expect(first[0]!.id).not.toBe(second[0]!.id);
    expect(first[2]!.choices[0]!.delta.tool_calls![0]!.id).toBe(`${first[0]!.id}-call-0`);
  });

  it('gives the same answer when the bytes arrive 5 at a time (split inside UTF-8 and inside CRLF CRLF)', async () => {
    const bytes = Buffer.from(fixture('gemini-function-call.sse'), 'utf8');
    const parts: Buffer[] = [];
    for (let offset = 0; offset < bytes.length; offset += 5) parts.push(bytes.subarray(offset, offset + 5));
    server = await startLoopbackServer(async (_request, response) => {
      sseHeaders(response);
      await writeApart(response, parts, 0);
      response.end();
    });
    const snapshot = await lastValueFrom(fromGeminiContent({ baseURL: `${server.url}/v1beta`, model: 'm', body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.content).toBe('The sky is blue ☀️ 中文.');
    expect(snapshot.toolCalls).toHaveLength(1);
  });

  it('keeps one id for the whole answer when responseId only turns up after the first chunk, so no text is lost', async () => {
    const text = fixture('gemini-function-call.sse').replace(',"responseId":"resp_Fixture1"', '');
    const baseURL = await serveText(text);
    const events = await lastValueFrom(fromGeminiContent({ baseURL, model: 'm', body }).pipe(toArray()));
    const chunks = events.filter((event): event is ChatCompletionChunk => event !== DONE);
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    const snapshot = await lastValueFrom(fromGeminiContent({ baseURL, model: 'm', body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.reasoning).toBe('Thinking about Oslo.');
    expect(snapshot.content).toBe('The sky is blue ☀️ 中文.');
  });

  describe('with two candidates', () => {
    const candidate = (index: number, text: string, finishReason?: string) => ({ content: { role: 'model', parts: [{ text }] }, index, ...(finishReason ? { finishReason } : {}) });
    const event = (...candidates: object[]) => `data: ${JSON.stringify({ candidates, responseId: 'r2' })}\n\n`;

    it('emits DONE only once every candidate has its finishReason', async () => {
      const baseURL = await serveText(event(candidate(0, 'A'), candidate(1, 'B')) + event(candidate(0, '!', 'STOP')) + event(candidate(1, '?', 'MAX_TOKENS')));
      const snapshot = await lastValueFrom(fromGeminiContent({ baseURL, model: 'm', body }).pipe(untilDone(), accumulateContent()));
      expect(snapshot.choices.map((choice) => [choice.content, choice.finishReason])).toEqual([
        ['A!', 'stop'],
        ['B?', 'length'],
      ]);
    });

    it('reports a cut when the body ends with one candidate unfinished', async () => {
      const baseURL = await serveText(event(candidate(0, 'A'), candidate(1, 'B')) + event(candidate(0, '!', 'STOP')));
      const events = await lastValueFrom(fromGeminiContent({ baseURL, model: 'm', body }).pipe(toArray()));
      expect(events).not.toContain(DONE);
    });
  });

  it.each(['null', '7', '[{"candidates":[]}]'])('fails with ParseError for a JSON payload that is not a response object: %s', async (payload) => {
    const baseURL = await serveText(`data: ${payload}\n\n`);
    const error = await lastValueFrom(fromGeminiContent({ baseURL, model: 'm', body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParseError);
  });

  it('skips null candidates and parts instead of crashing', async () => {
    const baseURL = await serveText(
      `data: {"candidates":[{"content":{"parts":[null,{"text":"ok"},{"functionCall":null}]},"index":0,"finishReason":"STOP"},null],"responseId":"r3"}\n\n`,
    );
    const snapshot = await lastValueFrom(fromGeminiContent({ baseURL, model: 'm', body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.content).toBe('ok');
    expect(snapshot.toolCalls).toEqual([]);
    expect(snapshot.finishReason).toBe('stop');
  });

  it('aborts the request when unsubscribed, though the server keeps the connection open', async () => {
    server = await startLoopbackServer((_request, response) => {
      sseHeaders(response);
      response.write(fixture('gemini-function-call.sse'));
    });
    await lastValueFrom(fromGeminiContent({ baseURL: `${server.url}/v1beta`, model: 'm', body }).pipe(take(1)));
    let timer: NodeJS.Timeout | undefined;
    const closedAt = await Promise.race([server.requests[0]!.closed, new Promise<string>((resolve) => (timer = setTimeout(resolve, 2000, 'still open')))]);
    clearTimeout(timer);
    expect(typeof closedAt).toBe('number');
  });

  it.each([
    [{ body }, TypeError],
    [{ body, model: 42 }, TypeError],
    [{ body, model: '  ' }, TypeError],
    [{ model: 'm', body: null }, TypeError],
    [{ model: 'm', body, baseURL: 'file:///etc' }, TypeError],
    [{ model: 'm', body, apiKey: 'k\r\n' }, TypeError],
    [{ model: 'm', body, idleTimeout: Number.NaN }, TypeError],
  ])('rejects bad options before any request: %j', (options, type) => {
    expect(() => fromGeminiContent(options as never)).toThrow(type);
  });

  it('uses url as given, for Vertex AI and proxies', async () => {
    await serveText(fixture('gemini-function-call.sse'));
    await lastValueFrom(fromGeminiContent({ url: `${server.url}/custom/path?alt=sse`, body }).pipe(toArray()));
    expect(server.requests[0]!.path).toBe('/custom/path?alt=sse');
  });
});
