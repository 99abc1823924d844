import { lastValueFrom, toArray } from 'rxjs';
import { DONE, fromResponses, HttpError, retryWithBackoff, streamStartOf, untilDone, type ChatCompletionChunk, type ChatCompletionEvent } from '../src/index.js';
import { startMockChatServer, type MockChatServer, type MockScenario } from '../src/testing/index.js';
import { responsesFormat } from '../src/testing/renderResponses.js';
import { resolveScenario, tokenize } from '../src/testing/scenario.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { accumulateContent } from '../src/index.js';
import { sseHeaders, startLoopbackServer, waitFor, type LoopbackServer } from './support/loopbackServer';

const TEXT = 'Resumed, not restarted: café, 中文, emoji 🚀, nothing lost or repeated.';
const TOKEN_SIZE = 3;
const scenario: MockScenario = { text: TEXT, tokenSize: TOKEN_SIZE, reasoning: 'Think 🤔.', toolCalls: [{ name: 'lookup', arguments: '{"city":"Zürich"}' }] };
/** Tokens in one generation of `scenario`: text, reasoning and argument fragments. */
const ONE_GENERATION = [TEXT, 'Think 🤔.', '{"city":"Zürich"}'].reduce((sum, text) => sum + tokenize(text, TOKEN_SIZE).length, 0);
/** Events of one generation, for picking drop points. */
const EVENT_COUNT = responsesFormat.events(resolveScenario(scenario), 'resp').length;

const body = { model: 'm', input: 'x', background: true, store: true };
const retry = () => retryWithBackoff<ChatCompletionChunk>({ initialDelay: 0, jitter: 'none', maxRetries: 5 });
const chunks = (events: ChatCompletionEvent[]) => events.filter((event): event is ChatCompletionChunk => event !== DONE);
const joined = (events: ChatCompletionChunk[], pick: (chunk: ChatCompletionChunk) => unknown) => events.map((chunk) => String(pick(chunk) ?? '')).join('');
const argumentsOf = (events: ChatCompletionChunk[]) => joined(events, (chunk) => chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments);

describe('fromResponses in the background: resume, fall back, cancel', () => {
  let server: MockChatServer;
  afterEach(() => server?.close());

  const start = async (script: MockScenario[]) => {
    server = await startMockChatServer({ scenario, script });
    return `${server.url}/v1`;
  };
  const paths = () => server.requests.map((request) => `${request.method} ${request.path}`);

  it('the mock streams one generation of the scenario as Responses events', async () => {
    const baseURL = await start([{}]);
    const events = await lastValueFrom(fromResponses({ baseURL, body }).pipe(toArray()));
    expect(events.at(-1)).toBe(DONE);
    expect(joined(chunks(events), (chunk) => chunk.choices[0]?.delta.content)).toBe(TEXT);
    expect(server.generatedTokens).toBe(ONE_GENERATION);
  });

  it('resumes a dropped stream with GET ?stream=true&starting_after: exact text, marks, one generation, no cancel', async () => {
    const baseURL = await start([{ fault: { kind: 'drop', afterChunks: 12, atByte: 25 } }, {}]);
    const events = chunks(await lastValueFrom(fromResponses({ baseURL, body }).pipe(untilDone(), retry(), toArray())));
    expect(paths()).toEqual(['POST /v1/responses', 'GET /v1/responses/resp_mock_1?stream=true&starting_after=11']);
    expect(joined(events, (chunk) => chunk.choices[0]?.delta.content)).toBe(TEXT);
    expect(joined(events, (chunk) => chunk.choices[0]?.delta.reasoning_content)).toBe('Think 🤔.');
    expect(argumentsOf(events)).toBe('{"city":"Zürich"}');
    expect(events.at(-1)!.choices[0]!.finish_reason).toBe('tool_calls');
    const marks = events.map(streamStartOf).filter((mark) => mark !== undefined);
    expect(marks).toHaveLength(2);
    expect(marks[0]).toMatchObject({ resumed: false });
    expect(marks[1]).toMatchObject({ resumed: true });
    expect(marks[1]!.stream).toBe(marks[0]!.stream);
    expect(server.generatedTokens).toBe(ONE_GENERATION);
  });

  it('resumes after a drop at every event and at bytes inside lines and characters: exact text, one generation each time', async () => {
    for (let afterChunks = 1; afterChunks < EVENT_COUNT; afterChunks += 2) {
      for (const atByte of [undefined, 7, 'midCharacter'] as const) {
        const baseURL = await start([{ fault: { kind: 'drop', afterChunks, atByte } }, { fault: { kind: 'drop', afterChunks: 2, atByte: 3 } }, {}]);
        const events = chunks(await lastValueFrom(fromResponses({ baseURL, body }).pipe(untilDone(), retry(), toArray())));
        const where = `drop after ${afterChunks} at ${String(atByte)}`;
        expect([where, joined(events, (chunk) => chunk.choices[0]?.delta.content)]).toEqual([where, TEXT]);
        expect([where, argumentsOf(events)]).toEqual([where, '{"city":"Zürich"}']);
        expect([where, server.generatedTokens]).toEqual([where, ONE_GENERATION]);
        expect([where, server.requests.filter((request) => request.method === 'GET').length > 0]).toEqual([where, true]);
        await server.close();
      }
    }
  });

  it('resumes again after a 503 on the resume itself, and through keepalive events', async () => {
    const baseURL = await start([{ fault: { kind: 'drop', afterChunks: 5 }, keepAliveEvery: 2 }, { fault: { kind: 'status', status: 503 } }, { keepAliveEvery: 1 }]);
    const events = chunks(await lastValueFrom(fromResponses({ baseURL, body }).pipe(untilDone(), retry(), toArray())));
    expect(paths()).toEqual([
      'POST /v1/responses',
      'GET /v1/responses/resp_mock_1?stream=true&starting_after=4',
      'GET /v1/responses/resp_mock_1?stream=true&starting_after=4',
    ]);
    expect(joined(events, (chunk) => chunk.choices[0]?.delta.content)).toBe(TEXT);
    expect(server.generatedTokens).toBe(ONE_GENERATION);
  });

  it('restarts with a fresh POST, marked resumed: false, when the stream is not in the background', async () => {
    const baseURL = await start([{ fault: { kind: 'drop', afterChunks: 12 } }, {}]);
    const events = chunks(await lastValueFrom(fromResponses({ baseURL, body: { model: 'm', input: 'x' } }).pipe(untilDone(), retry(), toArray())));
    expect(paths()).toEqual(['POST /v1/responses', 'POST /v1/responses']);
    const marks = events.map(streamStartOf).filter((mark) => mark !== undefined);
    expect(marks.map((mark) => mark!.resumed)).toEqual([false, false]);
    expect(marks[1]!.stream).not.toBe(marks[0]!.stream);
    expect(server.generatedTokens).toBeGreaterThan(ONE_GENERATION);
  });

  it('falls back to a fresh POST, signalled as a restart, when the resume is answered 404', async () => {
    const baseURL = await start([{}]);
    const events = chunks(await lastValueFrom(fromResponses({ baseURL, body, resumeFrom: { id: 'resp_expired', after: 7 } }).pipe(toArray())));
    expect(paths()).toEqual(['GET /v1/responses/resp_expired?stream=true&starting_after=7', 'POST /v1/responses']);
    expect(streamStartOf(events[0])).toMatchObject({ resumed: false });
    expect(joined(events, (chunk) => chunk.choices[0]?.delta.content)).toBe(TEXT);
  });

  it('fails with the HttpError when a resume is refused for another reason (401)', async () => {
    server = await startMockChatServer({ scenario, apiKey: 'right-key-123' });
    const error = await lastValueFrom(fromResponses({ baseURL: `${server.url}/v1`, apiKey: 'wrong-key-456', body, resumeFrom: { id: 'resp_1' } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(paths()).toEqual(['GET /v1/responses/resp_1?stream=true']);
  });

  it('cancels a background response when the consumer unsubscribes, and reports its id', async () => {
    const baseURL = await start([{ paceMs: 20 }]);
    const ids: string[] = [];
    const received: ChatCompletionEvent[] = [];
    const subscription = fromResponses({ baseURL, body, onResponseId: (id) => ids.push(id) }).subscribe((event) => received.push(event));
    await waitFor(() => received.length >= 3);
    subscription.unsubscribe();
    await waitFor(() => server.requests.length === 2);
    expect(ids).toEqual(['resp_mock_1']);
    expect(paths()[1]).toBe('POST /v1/responses/resp_mock_1/cancel');
    expect(server.requests[1]!.headers.authorization).toBeUndefined();
  });

  it('sends the credentials with the cancel', async () => {
    server = await startMockChatServer({ scenario: { ...scenario, paceMs: 20 }, apiKey: 'cancel-key-123' });
    const received: ChatCompletionEvent[] = [];
    const subscription = fromResponses({ baseURL: `${server.url}/v1`, apiKey: 'cancel-key-123', headers: async () => ({ 'x-trace': 't1' }), body }).subscribe((event) => received.push(event));
    await waitFor(() => received.length >= 2);
    subscription.unsubscribe();
    await waitFor(() => server.requests.length === 2);
    expect(server.requests[1]!.headers.authorization).toBe('Bearer cancel-key-123');
    expect(server.requests[1]!.headers['x-trace']).toBe('t1');
  });

  it('leaves the response running with cancelOnUnsubscribe: false; resumeFrom picks it up later, replayed from the start without generating it again', async () => {
    const baseURL = await start([{ paceMs: 20 }, {}]);
    let id = '';
    const received: ChatCompletionEvent[] = [];
    const subscription = fromResponses({ baseURL, body, cancelOnUnsubscribe: false, onResponseId: (value) => (id = value) }).subscribe((event) => received.push(event));
    await waitFor(() => received.length >= 6);
    subscription.unsubscribe();
    await waitFor(() => server.requests[0]!.endedAt !== undefined);
    // A later page: only the id survived.
    const events = chunks(await lastValueFrom(fromResponses({ baseURL, body, resumeFrom: { id } }).pipe(untilDone(), toArray())));
    expect(paths()).toEqual(['POST /v1/responses', `GET /v1/responses/${id}?stream=true`]);
    expect(streamStartOf(events[0])).toMatchObject({ resumed: false });
    expect(joined(events, (chunk) => chunk.choices[0]?.delta.content)).toBe(TEXT);
    expect(server.generatedTokens).toBe(ONE_GENERATION);
  });

  it('resumeFrom with after asks only for what follows, marks the first chunk resumed, and never repeats earlier text from a .done', async () => {
    const baseURL = await start([{ fault: { kind: 'stall', afterChunks: 20 } }, {}]);
    let id = '';
    const received: ChatCompletionEvent[] = [];
    const subscription = fromResponses({ baseURL, body, cancelOnUnsubscribe: false, onResponseId: (value) => (id = value) }).subscribe((event) => received.push(event));
    // Events 0-19: created, in_progress, the reasoning item (8 events), the message's opening and its first 8 text deltas.
    const shown = tokenize(TEXT, TOKEN_SIZE).slice(0, 8).join('');
    await waitFor(() => joined(chunks(received), (chunk) => chunk.choices[0]?.delta.content) === shown);
    subscription.unsubscribe();
    const events = chunks(await lastValueFrom(fromResponses({ baseURL, body, resumeFrom: { id, after: 19 } }).pipe(untilDone(), toArray())));
    expect(paths()[1]).toBe(`GET /v1/responses/${id}?stream=true&starting_after=19`);
    expect(streamStartOf(events[0])).toMatchObject({ resumed: true });
    expect(events.every((chunk) => chunk.id === id)).toBe(true);
    expect(joined(events, (chunk) => chunk.choices[0]?.delta.content)).toBe(TEXT.slice(shown.length));
    expect(argumentsOf(events)).toBe('{"city":"Zürich"}');
  });

  it('does not cancel when untilDone unsubscribes at the end, nor when a retry resubscribes after an error', async () => {
    const baseURL = await start([{ fault: { kind: 'drop', afterChunks: 3 } }, { fault: { kind: 'holdOpen' } }]);
    // Records each request as it is sent (a cancel is sent during the unsubscribe itself), then sends it.
    const sent: string[] = [];
    const recordingFetch = (url: string, init: RequestInit) => {
      sent.push(`${init.method} ${new URL(url).pathname}`);
      return fetch(url, init);
    };
    await lastValueFrom(fromResponses({ baseURL, body, fetch: recordingFetch }).pipe(untilDone(), retry(), toArray()));
    expect(sent).toEqual(['POST /v1/responses', 'GET /v1/responses/resp_mock_1']);
    await waitFor(() => server.requests.every((request) => request.endedAt !== undefined));
    expect(paths().some((path) => path.endsWith('/cancel'))).toBe(false);
  });

  describe('against a server that replays more than asked', () => {
    let loopback: LoopbackServer;
    afterEach(() => loopback?.close());

    it('drops replayed events up to the cursor, and never takes a keepalive sequence_number for the cursor', async () => {
      const whole = readFileSync(join(__dirname, 'fixtures', 'responses-reasoning-text-tool.sse'), 'utf8');
      const cut = whole.indexOf('event: response.output_text.delta', whole.indexOf('"delta":"Checking "') + 1);
      loopback = await startLoopbackServer((request, response) => {
        sseHeaders(response);
        if (request.method === 'GET') return void response.end(whole);
        response.write(whole.slice(0, cut + 20));
        setTimeout(() => response.socket?.destroy(), 5);
      });
      const snapshot = await lastValueFrom(
        fromResponses({ baseURL: `${loopback.url}/v1`, body }).pipe(untilDone(), retry(), accumulateContent()),
      );
      expect(loopback.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
        'POST /v1/responses',
        'GET /v1/responses/resp_fixture_1?stream=true&starting_after=10',
      ]);
      expect(snapshot.content).toBe('Checking Oslo: café ☔ 中文');
      expect(snapshot.reasoning).toBe('**Plan** check Oslo.');
      expect(snapshot.toolCalls).toEqual([{ index: 0, id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }]);
    });
  });

  describe('the mock server speaks the Responses API', () => {
    const post = (url: string, payload: object) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
    const eventTypes = (text: string) => [...text.matchAll(/^event: (.+)$/gm)].map((match) => match[1]);

    it('streams typed events with sequence numbers and keepalive events, ending at response.completed without [DONE]', async () => {
      const baseURL = await start([{ keepAliveEvery: 3 }]);
      const text = await (await post(`${baseURL}/responses`, { model: 'm', input: 'x' })).text();
      const types = eventTypes(text);
      expect(types[0]).toBe('response.created');
      expect(types.at(-1)).toBe('response.completed');
      expect(types.filter((type) => type === 'keepalive').length).toBeGreaterThan(0);
      expect(text).not.toContain('[DONE]');
      const numbers = [...text.matchAll(/"sequence_number":(\d+)/g)].map((match) => Number(match[1]));
      expect(numbers).toEqual(numbers.map((_, i) => i));
    });

    it('keeps only background responses: GET streams what follows starting_after, 404 otherwise; a plain GET gives the status', async () => {
      const baseURL = await start([{}]);
      await (await post(`${baseURL}/responses`, { model: 'm', input: 'x' })).text();
      await (await post(`${baseURL}/responses`, { model: 'm', input: 'x', background: true })).text();
      expect((await fetch(`${baseURL}/responses/resp_mock_1?stream=true`)).status).toBe(404);
      const replay = await (await fetch(`${baseURL}/responses/resp_mock_2?stream=true&starting_after=${EVENT_COUNT - 4}`)).text();
      expect(eventTypes(replay)).toEqual(['response.function_call_arguments.done', 'response.output_item.done', 'response.completed']);
      expect(await (await fetch(`${baseURL}/responses/resp_mock_2`)).json()).toMatchObject({ id: 'resp_mock_2', status: 'completed' });
      expect(server.generatedTokens).toBe(2 * ONE_GENERATION);
    });

    it('cancel stops a background response mid-stream and is idempotent', async () => {
      const baseURL = await start([{ paceMs: 20 }, {}]);
      const response = await post(`${baseURL}/responses`, { model: 'm', input: 'x', background: true });
      const reader = response.body!.getReader();
      await reader.read();
      const cancelled = await post(`${baseURL}/responses/resp_mock_1/cancel`, {});
      expect(await cancelled.json()).toMatchObject({ id: 'resp_mock_1', status: 'cancelled' });
      let rest = '';
      for (let read = await reader.read(); !read.done; read = await reader.read()) rest += new TextDecoder().decode(read.value);
      expect(rest).not.toContain('response.completed');
      expect(server.generatedTokens).toBeLessThan(ONE_GENERATION);
      expect((await post(`${baseURL}/responses/resp_mock_1/cancel`, {})).status).toBe(200);
      expect((await post(`${baseURL}/responses/resp_unknown/cancel`, {})).status).toBe(404);
    });
  });
});
