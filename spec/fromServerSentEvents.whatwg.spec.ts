import { lastValueFrom, toArray } from 'rxjs';
import { fromServerSentEvents, HttpError, retryWithBackoff, type ServerSentEvent } from '../src/index.js';
import { sseHeaders, startLoopbackServer, type LoopbackServer } from './support/loopbackServer';

/** The WHATWG EventSource rules for a GET source, checked from outside over real HTTP. */
const retry = () => retryWithBackoff<ServerSentEvent>({ initialDelay: 0, jitter: 'none', maxRetries: 2 });

describe('fromServerSentEvents follows the EventSource rules on GET', () => {
  let loopback: LoopbackServer;
  afterEach(() => loopback?.close());

  it("asks for no cached answer: Cache-Control: no-cache and fetch's cache: 'no-store'", async () => {
    loopback = await startLoopbackServer((_request, response) => {
      sseHeaders(response);
      response.end('data: a\n\n');
    });
    const modes: unknown[] = [];
    const fetch = (url: string, init: RequestInit) => {
      modes.push(init.cache);
      return globalThis.fetch(url, init);
    };
    await lastValueFrom(fromServerSentEvents({ url: `${loopback.url}/events`, fetch }));
    expect(modes).toEqual(['no-store']);
    expect(loopback.requests[0]!.headers['cache-control']).toBe('no-cache');
  });

  it.each([201, 210, 299])('a %i answer is not a stream: a non-retryable HttpError, no event', async (status) => {
    loopback = await startLoopbackServer((_request, response) => {
      sseHeaders(response, status);
      response.end('data: a\n\n');
    });
    const seen: ServerSentEvent[] = [];
    const error = await lastValueFrom(fromServerSentEvents({ url: `${loopback.url}/events` }).pipe(retry())).catch((e: unknown) => e);
    expect(seen).toEqual([]);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status, retryable: false });
    expect(loopback.requests).toHaveLength(1);
  });

  it.each([301, 302, 303, 307, 308])('follows a %i redirect on GET, as EventSource does', async (status) => {
    loopback = await startLoopbackServer((request, response) => {
      if (request.url === '/events') return void response.writeHead(status, { location: '/events/' }).end();
      sseHeaders(response);
      response.end('data: moved\n\n');
    });
    const events = await lastValueFrom(fromServerSentEvents({ url: `${loopback.url}/events` }).pipe(toArray()));
    expect(events.map((event) => event.data)).toEqual(['moved']);
    expect(loopback.requests.map((request) => `${request.method} ${request.path}`)).toEqual(['GET /events', 'GET /events/']);
  });

  it('a POST source does not follow 301/302/303 (they would turn it into a GET without its body)', async () => {
    loopback = await startLoopbackServer((_request, response) => void response.writeHead(303, { location: '/elsewhere' }).end());
    const error = await lastValueFrom(fromServerSentEvents({ url: `${loopback.url}/events`, body: { q: 1 } })).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'HttpError', status: 303 });
    expect(loopback.requests).toHaveLength(1);
  });

  it('an id: in a block without data: updates the last event id, in stream order', async () => {
    loopback = await startLoopbackServer((request, response) => {
      sseHeaders(response);
      if (loopback.requests.length > 1) return void response.end(`data: after ${String(request.headers['last-event-id'])}\n\n`);
      response.write('id: 1\ndata: a\n\nid: 2\n\n');
      setTimeout(() => response.socket?.destroy(), 30);
    });
    const events = await lastValueFrom(fromServerSentEvents({ url: `${loopback.url}/events` }).pipe(retry(), toArray()));
    expect(events.map((event) => event.data)).toEqual(['a', 'after 2']);
  });

  it('an id-only block before a data block does not override the later id of that data block', async () => {
    loopback = await startLoopbackServer((request, response) => {
      sseHeaders(response);
      if (loopback.requests.length > 1) return void response.end(`data: after ${String(request.headers['last-event-id'])}\n\n`);
      response.write('id: 5\n\nid: 6\ndata: b\n\n');
      setTimeout(() => response.socket?.destroy(), 30);
    });
    const events = await lastValueFrom(fromServerSentEvents({ url: `${loopback.url}/events` }).pipe(retry(), toArray()));
    expect(events.map((event) => event.data)).toEqual(['b', 'after 6']);
  });

  it('an id: holding a control character is ignored: the reconnect is sent, with the last id that can travel', async () => {
    loopback = await startLoopbackServer((request, response) => {
      sseHeaders(response);
      if (loopback.requests.length > 1) return void response.end(`data: after ${String(request.headers['last-event-id'])}\n\n`);
      response.write('id: 1\ndata: a\n\nid: 2\u001b[31m\ndata: b\n\n');
      setTimeout(() => response.socket?.destroy(), 30);
    });
    const events = await lastValueFrom(fromServerSentEvents({ url: `${loopback.url}/events` }).pipe(retry(), toArray()));
    expect(events.map((event) => event.data)).toEqual(['a', 'b', 'after 1']);
  });
});
