import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { lastValueFrom } from 'rxjs';
import { accumulateContent, fromChatCompletion, HttpError, retryWithBackoff, untilDone } from '../src/index.js';
import { expectedOutput, startMockChatServer, type MockChatServer, type MockScenario } from '../src/testing/index.js';
import { waitFor } from './support/loopbackServer';

const openAIBody = { model: 'mock-model', messages: [{ role: 'user', content: 'hi' }] } as const;

/** Reads a whole response: status, raw bytes, parsed events, and whether the body errored. */
async function read(url: string, init: RequestInit = {}) {
  const response = await fetch(url, { method: 'POST', body: JSON.stringify(openAIBody), ...init });
  const bytes: Uint8Array[] = [];
  const writes: number[] = [];
  let failed = false;
  try {
    for await (const piece of response.body as unknown as AsyncIterable<Uint8Array>) {
      bytes.push(piece);
      writes.push(piece.length);
    }
  } catch {
    failed = true;
  }
  const raw = Buffer.concat(bytes);
  const events: EventSourceMessage[] = [];
  const comments: string[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event), onComment: (comment) => comments.push(comment) });
  parser.feed(raw.toString('utf8'));
  parser.reset({ consume: true });
  return { response, raw, events, comments, failed, writes };
}

describe('startMockChatServer', () => {
  let server: MockChatServer;
  const start = async (options: Parameters<typeof startMockChatServer>[0] = {}) => {
    server = await startMockChatServer(options);
    return server;
  };
  afterEach(() => server?.close());

  it('streams the OpenAI format: role chunk, content tokens, finish, usage, [DONE]', async () => {
    const { url } = await start({ scenario: { text: 'Hello, wörld 🚀!', tokenSize: 3 } });
    const { response, events } = await read(`${url}/v1/chat/completions`);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(events.at(-1)?.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event.data));
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('Hello, wörld 🚀!');
    expect(chunks.at(-2).choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 12 } });
    expect(new Set(chunks.map((chunk) => chunk.id))).toEqual(new Set(['chatcmpl-mock-1']));
  });

  it('gives each request a new id and records method, path, headers, parsed body and times', async () => {
    const { url, requests } = await start();
    const first = await read(`${url}/v1/chat/completions`, { headers: { 'x-trace': 'one' } });
    const second = await read(`${url}/v1/chat/completions`);
    expect(JSON.parse(first.events[0]!.data).id).toBe('chatcmpl-mock-1');
    expect(JSON.parse(second.events[0]!.data).id).toBe('chatcmpl-mock-2');
    expect(requests).toHaveLength(2);
    expect(requests[0]).toMatchObject({ method: 'POST', path: '/v1/chat/completions', format: 'openai', body: openAIBody, closedByClient: false });
    expect(requests[0]!.headers['x-trace']).toBe('one');
    expect(requests[0]!.endedAt).toBeGreaterThanOrEqual(requests[0]!.startedAt);
  });

  it('streams reasoning, several choices and tool calls, as expectedOutput describes', async () => {
    const scenario: MockScenario = {
      text: ['first choice', 'second'],
      reasoning: 'think first',
      toolCalls: [{ name: 'lookup', arguments: '{"q":"rxjs"}' }],
      tokenSize: 2,
    };
    const { url } = await start({ scenario });
    const { events } = await read(`${url}/v1/chat/completions`);
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event.data));
    const deltas = (index: number) => chunks.flatMap((chunk) => chunk.choices.filter((choice: { index: number }) => choice.index === index).map((choice: { delta: unknown }) => choice.delta));
    const expected = expectedOutput(scenario);
    expect(deltas(0).map((delta) => delta.content ?? '').join('')).toBe(expected.content[0]);
    expect(deltas(1).map((delta) => delta.content ?? '').join('')).toBe(expected.content[1]);
    expect(deltas(0).map((delta) => delta.reasoning_content ?? '').join('')).toBe('think first');
    const calls = deltas(0).flatMap((delta) => delta.tool_calls ?? []);
    expect(calls[0]).toMatchObject({ index: 0, id: 'call_mock_1', function: { name: 'lookup' } });
    expect(calls.map((call: { function: { arguments?: string } }) => call.function.arguments ?? '').join('')).toBe('{"q":"rxjs"}');
    expect(expected.finishReason).toBe('tool_calls');
    expect(chunks.at(-2).choices[0].finish_reason).toBe('tool_calls');
  });

  it('streams a raw chunk list, fills in the id per request, and expectedOutput folds it', async () => {
    const scenario: MockScenario = {
      chunks: [
        { choices: [{ index: 0, delta: { role: 'assistant', content: 'Hé' }, finish_reason: null }] },
        { choices: [{ index: 0, delta: { content: 'llo' }, finish_reason: null }, { index: 1, delta: { content: 'other' }, finish_reason: null }] },
        { choices: [{ index: 0, delta: { tool_calls: [{ id: 'call_x', type: 'function', function: { name: 'f', arguments: '{"a"' } }] }, finish_reason: null }] },
        { choices: [{ index: 0, delta: { tool_calls: [{ function: { arguments: ':1}' } }] }, finish_reason: null }] },
        { choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
      ],
    };
    const { url } = await start({ scenario });
    const first = await read(`${url}/v1/chat/completions`);
    expect(first.events).toHaveLength(6);
    expect(first.events.at(-1)!.data).toBe('[DONE]');
    expect(JSON.parse(first.events[0]!.data).id).toBe('chatcmpl-mock-1');
    const expected = expectedOutput(scenario);
    expect(expected).toEqual({ content: ['Héllo', 'other'], reasoning: '', toolCalls: [{ id: 'call_x', name: 'f', arguments: '{"a":1}' }], finishReason: 'tool_calls' });
    const snapshot = await lastValueFrom(fromChatCompletion({ baseURL: `${url}/v1`, body: openAIBody }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.id).toBe('chatcmpl-mock-2');
    expect(snapshot.choices.map((choice) => choice.content)).toEqual(expected.content);
    expect(snapshot.toolCalls.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments }))).toEqual(expected.toolCalls);
    expect(snapshot.finishReason).toBe(expected.finishReason);
  });

  it('speaks the Anthropic Messages format at /v1/messages', async () => {
    const { url } = await start({ scenario: { text: 'Bonjour', reasoning: 'hmm', toolCalls: [{ name: 'f', arguments: '{"a":1}' }] } });
    const { events } = await read(`${url}/v1/messages`);
    const names = events.map((event) => event.event);
    expect(names.slice(0, 2)).toEqual(['message_start', 'ping']);
    expect(names.at(-1)).toBe('message_stop');
    expect(JSON.parse(events[0]!.data).message.id).toBe('msg_mock_1');
    const payloads = events.map((event) => JSON.parse(event.data));
    expect(payloads.map((p) => p.delta?.text ?? '').join('')).toBe('Bonjour');
    expect(payloads.map((p) => p.delta?.thinking ?? '').join('')).toBe('hmm');
    expect(payloads.map((p) => p.delta?.partial_json ?? '').join('')).toBe('{"a":1}');
    expect(payloads.find((p) => p.content_block?.type === 'tool_use').content_block).toMatchObject({ id: 'call_mock_1', name: 'f' });
    expect(payloads.find((p) => p.type === 'message_delta').delta.stop_reason).toBe('tool_use');
  });

  it('speaks the Gemini format at /v1beta/models/{model}:streamGenerateContent', async () => {
    const { url, requests } = await start({ scenario: { text: 'Hallo Welt', reasoning: 'hm', toolCalls: [{ name: 'f', arguments: '{"a":1}' }] } });
    const { events } = await read(`${url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`, {
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
    });
    const payloads = events.map((event) => JSON.parse(event.data));
    const parts = payloads.flatMap((p) => p.candidates[0].content.parts);
    expect(parts.filter((p) => p.text !== undefined && !p.thought).map((p) => p.text).join('')).toBe('Hallo Welt');
    expect(parts.filter((p) => p.thought).map((p) => p.text).join('')).toBe('hm');
    expect(parts.find((p) => p.functionCall).functionCall).toEqual({ id: 'call_mock_1', name: 'f', args: { a: 1 } });
    expect(payloads.at(-1).candidates[0].finishReason).toBe('STOP');
    expect(payloads.slice(0, -1).every((p) => p.candidates[0].finishReason === undefined)).toBe(true);
    expect(payloads[0].responseId).toBe('resp-mock-1');
    expect(requests[0]!.format).toBe('gemini');
  });

  it('answers a status with the format error body and Retry-After headers', async () => {
    const { url } = await start({ scenario: { fault: { kind: 'status', status: 429, retryAfter: 2, retryAfterMs: 1500, message: 'Slow down' } } });
    const openai = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(openAIBody) });
    expect(openai.status).toBe(429);
    expect(openai.headers.get('retry-after')).toBe('2');
    expect(openai.headers.get('retry-after-ms')).toBe('1500');
    expect(await openai.json()).toMatchObject({ error: { message: 'Slow down', type: 'rate_limit_exceeded' } });
    const anthropic = await fetch(`${url}/v1/messages`, { method: 'POST', body: JSON.stringify(openAIBody) });
    expect(await anthropic.json()).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: 'Slow down' } });
    const gemini = await fetch(`${url}/v1beta/models/m:streamGenerateContent?alt=sse`, { method: 'POST', body: '{"contents":[]}' });
    expect(await gemini.json()).toEqual({ error: { code: 429, message: 'Slow down', status: 'RESOURCE_EXHAUSTED' } });
  });

  it('requires the key when apiKey is set, in any of the providers headers', async () => {
    const { url, requests } = await start({ apiKey: 'sk-mock' });
    const missing = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(openAIBody) });
    expect(missing.status).toBe(401);
    expect((await missing.json()).error.message).toMatch(/API key/);
    const wrong = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(openAIBody), headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    await wrong.text();
    const accepted: Record<string, string>[] = [{ authorization: 'Bearer sk-mock' }, { 'api-key': 'sk-mock' }, { 'x-api-key': 'sk-mock' }];
    for (const headers of accepted) {
      const ok = await read(`${url}/v1/chat/completions`, { headers });
      expect(ok.response.status).toBe(200);
    }
    expect(requests).toHaveLength(5);
  });

  it('rejects bodies a provider would reject, unknown paths and other methods', async () => {
    const { url } = await start();
    const noMessages = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: '{"model":"m"}' });
    expect(noMessages.status).toBe(400);
    expect((await fetch(`${url}/v1/nothing`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await fetch(`${url}/v1/chat/completions`)).status).toBe(405);
  });

  it('drops the socket after N chunks, and mid-chunk inside a UTF-8 character', async () => {
    const text = '中文中文中文';
    const third = (await framesOf(text))[2]!;
    const offset = third.indexOf(Buffer.from('文')) + 1;
    const { url, requests } = await start({
      script: [
        { text, tokenSize: 1, fault: { kind: 'drop', afterChunks: 2 } },
        { text, tokenSize: 1, fault: { kind: 'drop', afterChunks: 2, atByte: offset } },
      ],
    });
    const whole = await read(`${url}/v1/chat/completions`);
    expect(whole.failed).toBe(true);
    expect(whole.events).toHaveLength(2);
    const partial = await read(`${url}/v1/chat/completions`);
    expect(partial.failed).toBe(true);
    expect(partial.raw.length).toBe(whole.raw.length + offset);
    expect(partial.raw.subarray(-1)[0]).toBe(Buffer.from('文')[0]);
    expect(requests.map((request) => request.closedByClient)).toEqual([false, false]);
  });

  it('stalls with the socket open, and records the client closing it', async () => {
    const { url, requests } = await start({ scenario: { fault: { kind: 'stall', afterChunks: 3 } } });
    const controller = new AbortController();
    const response = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(openAIBody), signal: controller.signal });
    const reader = response.body!.getReader();
    await reader.read();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(requests[0]!.endedAt).toBeUndefined();
    controller.abort();
    await waitFor(() => requests[0]!.endedAt !== undefined);
    expect(requests[0]!.closedByClient).toBe(true);
  });

  it('holds the socket open after [DONE]', async () => {
    const { url, requests } = await start({ scenario: { fault: { kind: 'holdOpen' } } });
    const controller = new AbortController();
    const response = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(openAIBody), signal: controller.signal });
    const decoder = new TextDecoder();
    let text = '';
    const reader = response.body!.getReader();
    while (!text.includes('[DONE]')) text += decoder.decode((await reader.read()).value);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(requests[0]!.endedAt).toBeUndefined();
    controller.abort();
    await waitFor(() => requests[0]!.closedByClient);
  });

  it('sends an in-stream error object and a non-JSON payload', async () => {
    const { url } = await start({
      script: [{ fault: { kind: 'error', afterChunks: 2, errorType: 'server_error', message: 'boom' } }, { fault: { kind: 'malformed', afterChunks: 1, payload: 'not json' } }],
    });
    const errored = await read(`${url}/v1/chat/completions`);
    expect(errored.events).toHaveLength(3);
    expect(JSON.parse(errored.events[2]!.data)).toEqual({ error: { message: 'boom', type: 'server_error', param: null, code: null } });
    const malformed = await read(`${url}/v1/chat/completions`);
    expect(malformed.events.map((event) => event.data).slice(1)).toEqual(['not json']);
    const anthropic = await startMockChatServer({ scenario: { fault: { kind: 'error', afterChunks: 1 } } });
    const anthropicError = await read(`${anthropic.url}/v1/messages`);
    await anthropic.close();
    expect(anthropicError.events[1]).toMatchObject({ event: 'error' });
    expect(JSON.parse(anthropicError.events[1]!.data).error.type).toBe('overloaded_error');
  });

  it.each([['\r\n'], ['\r']] as const)('frames events with %j line endings, which the library reads', async (lineEnding) => {
    const { url } = await start({ scenario: { lineEnding } });
    const { raw } = await read(`${url}/v1/chat/completions`);
    const text = raw.toString('utf8');
    expect(text.endsWith(`data: [DONE]${lineEnding}${lineEnding}`)).toBe(true);
    if (lineEnding === '\r') expect(text.includes('\n')).toBe(false);
    const snapshot = await lastValueFrom(fromChatCompletion({ baseURL: `${url}/v1`, body: openAIBody }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.content).toBe(expectedOutput().content[0]);
  });

  it('dribbles bytes and sends keep-alive comments', async () => {
    const { url } = await start({ scenario: { text: 'tiny', dribble: 3, keepAliveEvery: 2 } });
    const { events, comments, writes, raw } = await read(`${url}/v1/chat/completions`);
    // 5 chunks (role, "tiny", finish, usage, [DONE]): a comment before chunks 2 and 4.
    expect(events).toHaveLength(5);
    expect(comments.map((comment) => comment.trim())).toEqual(['keep-alive', 'keep-alive']);
    const text = raw.toString('utf8');
    expect(text.startsWith('data: ')).toBe(true);
    expect(text.indexOf(': keep-alive')).toBeGreaterThan(text.indexOf('"role":"assistant"'));
    expect(Math.max(...writes)).toBeLessThan(60);
    expect(events.at(-1)!.data).toBe('[DONE]');
  });

  it('paces chunks', async () => {
    const { url } = await start({ scenario: { text: 'abcdefgh', tokenSize: 2, paceMs: 20 } });
    const started = Date.now();
    await read(`${url}/v1/chat/completions`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(20 * 6);
  });

  it('applies faults the same way in the Anthropic and Gemini formats', async () => {
    const { url, requests } = await start({
      script: [{ fault: { kind: 'drop', afterChunks: 3 } }, { fault: { kind: 'stall', afterChunks: 2 } }],
    });
    const anthropic = await read(`${url}/v1/messages`);
    expect(anthropic.failed).toBe(true);
    expect(anthropic.events.map((event) => event.event)).toEqual(['message_start', 'ping', 'content_block_start']);
    const controller = new AbortController();
    const gemini = await fetch(`${url}/v1beta/models/m:streamGenerateContent?alt=sse`, { method: 'POST', body: '{"contents":[]}', signal: controller.signal });
    const reader = gemini.body!.getReader();
    let text = '';
    while ((text.match(/\n\n/g) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value);
    expect(text.split('\n\n').filter(Boolean).map((event) => JSON.parse(event.slice('data: '.length)).responseId)).toEqual(['resp-mock-2', 'resp-mock-2']);
    controller.abort();
    await waitFor(() => requests[1]!.closedByClient);
    expect(requests.map((request) => [request.format, request.closedByClient])).toEqual([['anthropic', false], ['gemini', true]]);
  });

  it('accepts a Gemini key in x-goog-api-key or ?key=, sends an HTTP-date Retry-After, and passes the request to a script function', async () => {
    const date = new Date(Date.now() + 60_000).toUTCString();
    const seen: [number, string][] = [];
    const { url } = await start({
      apiKey: 'g-key',
      script: (index, request) => {
        seen.push([index, request.path]);
        return index === 0 ? { fault: { kind: 'status', status: 503, retryAfter: date } } : { text: 'ok' };
      },
    });
    const path = '/v1beta/models/m:streamGenerateContent?alt=sse';
    const unavailable = await fetch(`${url}${path}`, { method: 'POST', body: '{"contents":[]}', headers: { 'x-goog-api-key': 'g-key' } });
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get('retry-after')).toBe(date);
    expect(await unavailable.json()).toMatchObject({ error: { code: 503, status: 'UNAVAILABLE' } });
    const ok = await read(`${url}${path}&key=g-key`, { body: '{"contents":[]}' });
    expect(ok.events.map((event) => JSON.parse(event.data).candidates[0].content.parts[0]?.text ?? '').join('')).toBe('ok');
    expect(seen).toEqual([[0, path], [1, `${path}&key=g-key`]]);
  });

  it('dribbles byte by byte with CRLF, and the library still reads the exact text', async () => {
    const scenario: MockScenario = { text: 'é中🚀!', dribble: 1, lineEnding: '\r\n', keepAliveEvery: 1 };
    const { url } = await start({ scenario });
    const { writes } = await read(`${url}/v1/chat/completions`);
    expect(writes.length).toBeGreaterThan(20);
    const snapshot = await lastValueFrom(fromChatCompletion({ baseURL: `${url}/v1`, body: openAIBody }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.content).toBe(expectedOutput(scenario).content[0]);
  });

  it('answers CORS preflights without recording them', async () => {
    const { url, requests } = await start();
    const preflight = await fetch(`${url}/v1/chat/completions`, { method: 'OPTIONS' });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(requests).toHaveLength(0);
  });

  it('serves the library pipeline through a mid-character drop, a 429 and a stall, exactly once', async () => {
    const scenario: MockScenario = { text: 'Exact text: é 中文 🚀 done.', tokenSize: 2 };
    const { url, requests } = await start({
      scenario,
      script: [
        { fault: { kind: 'drop', afterChunks: 4, atByte: 40 } },
        { fault: { kind: 'status', status: 429, retryAfterMs: 30 } },
        { fault: { kind: 'stall', afterChunks: 3 } },
        {},
      ],
    });
    const retries: unknown[] = [];
    const snapshot = await lastValueFrom(
      fromChatCompletion({ baseURL: `${url}/v1`, body: openAIBody, idleTimeout: 200 }).pipe(
        untilDone(),
        accumulateContent(),
        retryWithBackoff({ initialDelay: 5, maxRetries: 4, onRetry: ({ error }) => retries.push(error) }),
      ),
    );
    expect(snapshot.content).toBe(expectedOutput(scenario).content[0]);
    expect(snapshot.finishReason).toBe('stop');
    expect(requests).toHaveLength(4);
    expect(retries[1]).toBeInstanceOf(HttpError);
    await waitFor(() => requests[2]!.closedByClient);
  });

  it('closes cleanly with a connection still held open, which is not the client closing it', async () => {
    const { url, requests } = await start({ scenario: { fault: { kind: 'stall', afterChunks: 1 } } });
    const response = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(openAIBody) });
    const reader = response.body!.getReader();
    await reader.read();
    await server.close();
    await expect(reader.read().then(() => reader.read())).rejects.toThrow();
    await waitFor(() => requests[0]!.endedAt !== undefined);
    expect(requests[0]!.closedByClient).toBe(false);
  });
});

describe('startMockChatServer: what it reads of a request', () => {
  let server: MockChatServer;
  afterEach(() => server?.close());

  it('answers 401 before reading the body: a client declaring 600 MB and sending 1 KB gets its answer', async () => {
    server = await startMockChatServer({ apiKey: 'sk-mock' });
    const answer = await sendPart(`${server.url}/v1/chat/completions`, {
      headers: { 'content-type': 'application/json', 'content-length': String(600 * 1024 * 1024) },
      chunks: [Buffer.alloc(1024, 0x20)],
      end: false,
    });
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body).error.message).toMatch(/API key/);
    expect(server.requests[0]!.body).toBeUndefined();
    const ok = await read(`${server.url}/v1/chat/completions`, { headers: { authorization: 'Bearer sk-mock' } });
    expect(ok.response.status).toBe(200);
  });

  it('answers 413 to a declared Content-Length over maxBodyBytes without reading the body', async () => {
    server = await startMockChatServer({ apiKey: 'sk-mock', maxBodyBytes: 4096 });
    const answer = await sendPart(`${server.url}/v1/chat/completions`, {
      headers: { authorization: 'Bearer sk-mock', 'content-length': String(600 * 1024 * 1024) },
      chunks: [Buffer.alloc(1024, 0x20)],
      end: false,
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).error.message).toContain('4096 bytes');
  });

  it('answers 413 once a chunked body grows past maxBodyBytes, then still serves the next request', async () => {
    server = await startMockChatServer({ maxBodyBytes: 16 * 1024 });
    const answer = await sendPart(`${server.url}/v1/chat/completions`, {
      headers: { 'content-type': 'application/json' },
      chunks: [Buffer.from('{"model":"m","messages":[],"pad":"'), ...Array.from({ length: 4 }, () => Buffer.alloc(16 * 1024, 0x61)), Buffer.from('"}')],
      end: true,
    });
    expect(answer.status).toBe(413);
    const ok = await read(`${server.url}/v1/chat/completions`);
    expect(ok.response.status).toBe(200);
    expect(ok.events.at(-1)?.data).toBe('[DONE]');
  });

  it('closes the connection of a client that keeps sending past the cap', async () => {
    server = await startMockChatServer({ maxBodyBytes: 16 * 1024 });
    const attempted = 64 * 1024 * 1024;
    const { status, sent } = await sendUntilClosed(`${server.url}/v1/chat/completions`, attempted);
    expect(status).toBe(413);
    expect(sent).toBeLessThan(attempted);
  });

  it('refuses a maxBodyBytes that is not a number of bytes, 1 or more', async () => {
    for (const maxBodyBytes of [0, -1, Number.NaN, '1024' as unknown as number]) {
      await expect(startMockChatServer({ maxBodyBytes })).rejects.toThrow(RangeError);
    }
  });
});

/**
 * POSTs with node:http, writing `chunks` (and ending the body when `end`),
 * and resolves with the answer's status and text. Rejects if no answer comes
 * in 10 s (a server still waiting for the body), a guard against a hang only.
 */
function sendPart(url: string, { headers, chunks, end }: { headers: OutgoingHttpHeaders; chunks: Buffer[]; end: boolean }) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const guard = setTimeout(() => {
      request.destroy();
      reject(new Error('no answer within 10 s: the server waits for the whole body'));
    }, 10_000);
    const request = httpRequest(url, { method: 'POST', headers, agent: false }, (response) => {
      const parts: Buffer[] = [];
      response.on('data', (part: Buffer) => parts.push(part));
      response.on('end', () => {
        clearTimeout(guard);
        request.destroy();
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') });
      });
    });
    request.on('error', (error) => {
      clearTimeout(guard);
      reject(error);
    });
    for (const chunk of chunks) request.write(chunk);
    if (end) request.end();
  });
}

/** Streams up to `total` bytes of a chunked body, 64 KiB at a time, until the server closes the connection. */
function sendUntilClosed(url: string, total: number) {
  return new Promise<{ status: number; sent: number }>((resolve) => {
    let status = 0;
    let sent = 0;
    const request = httpRequest(url, { method: 'POST', agent: false }, (response) => {
      status = response.statusCode ?? 0;
      response.resume();
    });
    request.on('error', () => undefined);
    request.on('close', () => resolve({ status, sent }));
    const piece = Buffer.alloc(64 * 1024, 0x61);
    const pump = () => {
      while (!request.destroyed && sent < total) {
        sent += piece.length;
        if (!request.write(piece)) return void request.once('drain', pump);
      }
      if (!request.destroyed) request.end();
    };
    pump();
  });
}

async function framesOf(text: string): Promise<Buffer[]> {
  const probe = await startMockChatServer({ scenario: { text, tokenSize: 1 } });
  const { raw } = await read(`${probe.url}/v1/chat/completions`);
  await probe.close();
  const frames: Buffer[] = [];
  let start = 0;
  for (let i = raw.indexOf('\n\n'); i !== -1; i = raw.indexOf('\n\n', start)) {
    frames.push(raw.subarray(start, i + 2));
    start = i + 2;
  }
  return frames;
}

describe('startMockChatServer routes: the providers’ own paths only, unless basePaths says otherwise', () => {
  let server: MockChatServer | undefined;
  afterEach(() => server?.close());
  const status = async (path: string) => {
    const response = await fetch(`${server!.url}${path}`, { method: 'POST', body: JSON.stringify(openAIBody) });
    const text = await response.text();
    return { status: response.status, text };
  };

  it('serves /v1/... and refuses a base URL without /v1 with a 404 that names the cause', async () => {
    server = await startMockChatServer();
    expect((await status('/v1/chat/completions')).status).toBe(200);
    // Served (an OpenAI body is the wrong shape for some of them, but the route exists: not a 404).
    for (const served of ['/v1/messages', '/v1/responses', '/v1beta/models/m:streamGenerateContent?alt=sse', '/v1/models/m:streamGenerateContent?alt=sse']) {
      expect([served, (await status(served)).status]).not.toEqual([served, 404]);
    }
    for (const wrong of ['/chat/completions', '/api/chat/completions', '/v2/chat/completions', '/v1/v1/chat/completions', '/messages']) {
      const answer = await status(wrong);
      expect([wrong, answer.status]).toEqual([wrong, 404]);
      expect(answer.text).toContain(`No route for ${wrong}`);
      expect(answer.text).toContain('Check the base URL');
    }
  });

  it('fromChatCompletion with the mock’s bare url fails at once with a non-retryable 404 (a wrong baseURL is caught in tests)', async () => {
    server = await startMockChatServer();
    const error = await lastValueFrom(
      fromChatCompletion({ baseURL: server.url, body: openAIBody }).pipe(untilDone(), accumulateContent(), retryWithBackoff({ initialDelay: 1 })),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(404);
    expect((error as HttpError).retryable).toBe(false);
    expect((error as HttpError).message).toContain('/v1');
    expect(server.requests.map((request) => request.path)).toEqual(['/chat/completions']);
  });

  it('basePaths serves every format under the given prefixes, and only there', async () => {
    server = await startMockChatServer({ basePaths: ['/api/openai/v1', ''] });
    const snapshot = await lastValueFrom(fromChatCompletion({ baseURL: `${server.url}/api/openai/v1`, body: openAIBody }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.content).toBe(expectedOutput({}).content[0]);
    expect((await status('/chat/completions')).status).toBe(200);
    expect((await status('/messages')).status).not.toBe(404);
    const refused = await status('/v1/chat/completions');
    expect(refused.status).toBe(404);
    expect(refused.text).toContain("every API under '/api/openai/v1', ''");
  });

  it('refuses malformed basePaths with a TypeError before listening', async () => {
    for (const basePaths of [['v1'], ['/v1/'], ['/v1?x'], [3], 'v1']) {
      await expect(startMockChatServer({ basePaths: basePaths as never })).rejects.toThrow(TypeError);
    }
  });
});
