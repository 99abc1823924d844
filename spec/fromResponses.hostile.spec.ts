import { lastValueFrom, toArray } from 'rxjs';
import { DONE, fromResponses, ParseError, retryWithBackoff, untilDone, accumulateContent, type ChatCompletionChunk } from '../src/index.js';
import { sseHeaders, startLoopbackServer, waitFor, type LoopbackServer } from './support/loopbackServer';

const body = { model: 'm', input: 'x', background: true, store: true };
const retry = () => retryWithBackoff<ChatCompletionChunk>({ initialDelay: 0, jitter: 'none', maxRetries: 3 });
const frame = (event: object) => `event: ${(event as { type: string }).type}\ndata: ${JSON.stringify(event)}\n\n`;
const created = (id: string, sequence: unknown = 0) => frame({ type: 'response.created', sequence_number: sequence, response: { id, status: 'in_progress' } });
const delta = (text: string, sequence: unknown) => frame({ type: 'response.output_text.delta', sequence_number: sequence, output_index: 0, content_index: 0, delta: text });
const completed = (sequence: number) => frame({ type: 'response.completed', sequence_number: sequence, response: { id: 'resp_ok', status: 'completed' } });

describe('fromResponses against hostile servers and careless users', () => {
  let loopback: LoopbackServer;
  afterEach(() => loopback?.close());
  const paths = () => loopback.requests.map((request) => `${request.method} ${request.path}`);

  it.each(['.', '..', 'a/b', 'resp_1?x=1', 'resp 1', 'x'.repeat(600)])('a server-chosen response id %p is a ParseError before any resume or cancel request', async (id) => {
    loopback = await startLoopbackServer((_request, response) => {
      sseHeaders(response);
      response.write(created(id));
      setTimeout(() => response.socket?.destroy(), 20);
    });
    const reported: string[] = [];
    const error = await lastValueFrom(
      fromResponses({ baseURL: `${loopback.url}/v1`, body, onResponseId: (value) => reported.push(value) }).pipe(untilDone(), retry()),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParseError);
    expect((error as ParseError).retryable).toBe(false);
    expect(reported).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(paths()).toEqual(['POST /v1/responses']);
  });

  it.each(['.', '..', 'resp/../x', 'resp 1', ''])('resumeFrom.id %p is a TypeError before any request', async (id) => {
    loopback = await startLoopbackServer((_request, response) => void response.end());
    expect(() => fromResponses({ baseURL: `${loopback.url}/v1`, body, resumeFrom: { id } })).toThrow(TypeError);
    expect(loopback.requests).toEqual([]);
  });

  it('accepts the ids providers really use (OpenAI resp_ hex, LiteLLM base64 with + and =)', async () => {
    for (const id of ['resp_68af1e2f3b4c8190a6e2f1d0c9b8a7f6', 'resp_bGl0ZWxsbTpjdXN0b21fbGxtX3Byb3ZpZGVyOm9wZW5haQ+=']) {
      expect(() => fromResponses({ body, resumeFrom: { id } })).not.toThrow();
    }
  });

  it('drops a repeated sequence_number within one connection ("AABC" is "ABC")', async () => {
    loopback = await startLoopbackServer((_request, response) => {
      sseHeaders(response);
      response.end(created('resp_ok') + delta('A', 1) + delta('A', 1) + delta('B', 2) + delta('C', 3) + delta('C', 2) + completed(4));
    });
    const snapshot = await lastValueFrom(fromResponses({ baseURL: `${loopback.url}/v1`, body: { model: 'm', input: 'x' } }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.content).toBe('ABC');
  });

  it('ignores non-integer and unsafe sequence numbers: the resume starts after the last sound one', async () => {
    loopback = await startLoopbackServer((request, response) => {
      sseHeaders(response);
      if (request.method === 'GET') return void response.end(delta('D', 5) + completed(6));
      response.write(created('resp_ok') + delta('A', 1) + delta('B', 1.5) + delta('C', 1e308) + delta('X', 2 ** 53 + 1) + delta('Y', '3'));
      setTimeout(() => response.socket?.destroy(), 20);
    });
    const events = await lastValueFrom(fromResponses({ baseURL: `${loopback.url}/v1`, body }).pipe(untilDone(), retry(), toArray()));
    expect(events.at(-1)).not.toBe(DONE);
    expect(paths()).toEqual(['POST /v1/responses', 'GET /v1/responses/resp_ok?stream=true&starting_after=1']);
    await waitFor(() => loopback.requests.length === 2);
  });
});

describe('a background response whose stream breaks before response.created', () => {
  let loopback: LoopbackServer;
  afterEach(() => loopback?.close());
  const posts = () => loopback.requests.filter((request) => request.method === 'POST').length;

  it.each([
    ['the connection breaks', (response: import('node:http').ServerResponse) => setTimeout(() => response.socket?.destroy(), 20)],
    ['the body ends', (response: import('node:http').ServerResponse) => setTimeout(() => response.end(), 20)],
  ])('%s: not POSTed again (no second answer billed); a non-retryable OrphanedResponseError says what to do', async (_case, cut) => {
    loopback = await startLoopbackServer((_request, response) => {
      sseHeaders(response);
      response.write(': keep-alive\n\n');
      cut(response);
    });
    const error = await lastValueFrom(fromResponses({ baseURL: `${loopback.url}/v1`, body }).pipe(untilDone(), retry())).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'OrphanedResponseError', retryable: false });
    expect((error as Error).message).toMatch(/may still be running/);
    expect(posts()).toBe(1);
  });

  it('a refusal before anything was accepted (503) is still retried, and so is a drop without background', async () => {
    let calls = 0;
    loopback = await startLoopbackServer((_request, response) => {
      calls++;
      if (calls === 1) return void response.writeHead(503).end();
      sseHeaders(response);
      if (calls === 2) {
        response.write(': keep-alive\n\n');
        return void setTimeout(() => response.socket?.destroy(), 20);
      }
      response.end(created('resp_ok') + delta('A', 1) + completed(2));
    });
    const snapshot = await lastValueFrom(fromResponses({ baseURL: `${loopback.url}/v1`, body: { model: 'm', input: 'x' } }).pipe(untilDone(), retry(), accumulateContent()));
    expect(snapshot.content).toBe('A');
    expect(posts()).toBe(3);
  });
});
