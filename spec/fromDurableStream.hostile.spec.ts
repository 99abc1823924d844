import { firstValueFrom, lastValueFrom, tap, toArray } from 'rxjs';
import { HttpError, IdleTimeoutError, ParseError } from '../src/errors';
import { retryWithBackoff } from '../src/operators/retryWithBackoff';
import { fromDurableStream } from '../src/sources/fromDurableStream';
import { startLoopbackServer, type LoopbackServer } from './support/loopbackServer';

// Servers that do not keep the protocol, stall, or have no SSE: a hand-written HTTP server on 127.0.0.1.
describe('fromDurableStream against servers that misbehave', () => {
  let server: LoopbackServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const json = (status: number, body: string, headers: Record<string, string>) => ({ status, body, headers: { 'content-type': 'application/json', ...headers } });

  it('a 200 without Stream-Next-Offset (not a Durable Streams URL) is a non-retryable ParseError', async () => {
    server = await startLoopbackServer((_request, response) => {
      const answer = json(200, '[1,2]', {});
      response.writeHead(answer.status, answer.headers).end(answer.body);
    });
    const error = await firstValueFrom(fromDurableStream({ url: `${server.url}/s` })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParseError);
    expect(error).toMatchObject({ retryable: false });
  });

  it('an application/json answer that is not JSON is a ParseError, and nothing of it is emitted', async () => {
    server = await startLoopbackServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'stream-next-offset': 'a_1', 'stream-up-to-date': 'true' }).end('[{"data":"x"},');
    });
    const seen: unknown[] = [];
    const error = await lastValueFrom(fromDurableStream({ url: `${server.url}/s`, live: false }).pipe(tap((value) => seen.push(value))), { defaultValue: undefined }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ParseError);
    expect(seen).toEqual([]);
  });

  it('a server that echoes the credential header into a broken answer: the error never holds it', async () => {
    const key = 'sk-durable-0123456789abcdef';
    server = await startLoopbackServer((request, response) => {
      const echoed = String(request.headers.authorization ?? '');
      response.writeHead(200, { 'content-type': 'application/json', 'stream-next-offset': 'a_1', 'stream-up-to-date': 'true' }).end(`[{"auth":"${echoed}"`);
    });
    const error = await firstValueFrom(fromDurableStream({ url: `${server.url}/s`, headers: { Authorization: `Bearer ${key}` } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParseError);
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${key}`);
    expect(JSON.stringify(error) + String(error) + (error as Error).stack + JSON.stringify((error as ParseError).excerpt)).not.toContain(key);
  });

  it('a catch-up answer that makes no progress and is not up to date fails instead of looping', async () => {
    server = await startLoopbackServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'stream-next-offset': 'a_1' }).end('[]');
    });
    const error = await firstValueFrom(fromDurableStream({ url: `${server.url}/s`, offset: 'a_1' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParseError);
    expect(server.requests).toHaveLength(1);
  });

  it('a server that stalls mid-SSE fails with IdleTimeoutError (retryable); the retry continues from the last control offset', async () => {
    server = await startLoopbackServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://x');
      const offset = url.searchParams.get('offset');
      if (url.searchParams.get('live') !== 'sse') {
        // Catch-up: two messages from the start; from a_2 the last one, and the stream is closed.
        const first = offset === '-1';
        response
          .writeHead(200, { 'content-type': 'application/json', 'stream-next-offset': first ? 'a_2' : 'a_3', 'stream-up-to-date': 'true', ...(first ? {} : { 'stream-closed': 'true' }) })
          .end(first ? '[{"n":1},{"n":2}]' : '[{"n":3}]');
        return;
      }
      // SSE from a_2: one control event, then silence.
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('event: control\ndata: {"streamNextOffset":"a_2","streamCursor":"1","upToDate":true}\n\n');
    });
    const errors: unknown[] = [];
    const values = await lastValueFrom(
      fromDurableStream<{ n: number }>({ url: `${server.url}/s`, live: 'sse', idleTimeout: 400 }).pipe(
        retryWithBackoff({ initialDelay: 1, jitter: 'none', maxRetries: 2, onRetry: ({ error }) => errors.push(error) }),
        toArray(),
      ),
    );
    expect(errors[0]).toBeInstanceOf(IdleTimeoutError);
    expect(values).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const offsets = server.requests.map((seen) => new URL(seen.path, 'http://x').searchParams.get('offset'));
    // -1 (catch-up), a_2 (SSE, stalls), then the retry's catch-up at a_2, which closes at a_3.
    expect(offsets.slice(0, 3)).toEqual(['-1', 'a_2', 'a_2']);
  });

  it('a server without SSE (405 to live=sse) is followed by long-poll with live: true, and refused with live: \u0027sse\u0027', async () => {
    const handle = (request: import('node:http').IncomingMessage, response: import('node:http').ServerResponse) => {
      const url = new URL(request.url ?? '/', 'http://x');
      const live = url.searchParams.get('live');
      const offset = url.searchParams.get('offset');
      if (live === 'sse') return void response.writeHead(405).end();
      if (live === 'long-poll') {
        return void response
          .writeHead(200, { 'content-type': 'text/plain', 'stream-next-offset': 'a_2', 'stream-closed': 'true', 'stream-up-to-date': 'true', 'stream-cursor': '7' })
          .end(offset === 'a_1' ? ' world' : '');
      }
      response.writeHead(200, { 'content-type': 'text/plain', 'stream-next-offset': 'a_1', 'stream-up-to-date': 'true' }).end('hello');
    };
    server = await startLoopbackServer(handle);
    const text = await lastValueFrom(fromDurableStream<string>({ url: `${server.url}/s` }).pipe(toArray()));
    expect(text.join('')).toBe('hello world');
    const error = await lastValueFrom(fromDurableStream<string>({ url: `${server.url}/s`, live: 'sse' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 405 });
  });
});
