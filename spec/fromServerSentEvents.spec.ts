import { lastValueFrom, map, toArray, type Observable } from 'rxjs';
import { HttpError, ParseError } from '../src/errors';
import { accumulateContent } from '../src/operators/accumulateContent';
import { parseRelayedChunks } from '../src/operators/parseRelayedChunks';
import { retryWithBackoff } from '../src/operators/retryWithBackoff';
import { untilDone } from '../src/operators/untilDone';
import { fromServerSentEvents, type ServerSentEvent } from '../src/sources/fromServerSentEvents';
import { streamStartOf } from '../src/streamStart';
import { startLoopbackServer, type LoopbackServer } from './support/loopbackServer';

const chunk = (text: string) => JSON.stringify({ id: 'c', choices: [{ index: 0, delta: { content: text } }] });

describe('fromServerSentEvents over HTTP', () => {
  let server: LoopbackServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('reconnects after a cut with Last-Event-ID and marks the first event of the reconnect resumed', async () => {
    const events = ['one', 'two', 'three', 'four'];
    server = await startLoopbackServer((request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const last = request.headers['last-event-id'];
      const from = last === undefined ? 0 : Number(last) + 1;
      if (from === 0) {
        // Two events, then the connection breaks off (no clean end).
        response.write(`retry: 5\nid: 0\ndata: ${events[0]}\n\nid: 1\ndata: ${events[1]}\n\n`, () => setTimeout(() => response.socket?.destroy(), 20));
        return;
      }
      for (let index = from; index < events.length; index++) response.write(`id: ${index}\ndata: ${events[index]}\n\n`);
      response.end();
    });
    const seen: { data: string; id: string | undefined; start: unknown }[] = [];
    const source = fromServerSentEvents({ url: `${server.url}/events` });
    const delays: number[] = [];
    await lastValueFrom(
      source.pipe(
        map((event) => ({ data: event.data, id: event.id, start: streamStartOf(event) })),
        retryWithBackoff({ initialDelay: 1, jitter: 'none', maxRetries: 3, onRetry: ({ delay }) => delays.push(delay) }),
        toArray(),
      ),
    ).then((all) => seen.push(...all));
    expect(seen.map((event) => event.data)).toEqual(events);
    expect(server.requests.map((request) => request.headers['last-event-id'])).toEqual([undefined, '1']);
    expect(server.requests.every((request) => request.method === 'GET' && request.headers.accept === 'text/event-stream')).toBe(true);
    expect(seen[0]!.start).toMatchObject({ resumed: false });
    expect(seen[2]!.start).toMatchObject({ resumed: true });
    expect(seen.filter((event) => event.start !== undefined)).toHaveLength(2);
    // The server's retry: 5 is the least wait, above the 1 ms backoff.
    expect(delays).toEqual([5]);
  }, 20_000);

  it.each([
    ['before', (events: Observable<ServerSentEvent>) => events.pipe(parseRelayedChunks(), untilDone(), retryWithBackoff({ initialDelay: 1, jitter: 'none' }), accumulateContent())],
    ['after', (events: Observable<ServerSentEvent>) => events.pipe(parseRelayedChunks(), untilDone(), accumulateContent(), retryWithBackoff({ initialDelay: 1, jitter: 'none' }))],
  ])('a relay-style pipeline (retryWithBackoff %s accumulateContent) resumes to the exact full text after a cut', async (_order, client) => {
    const pieces = ['Hel', 'lo, ', 'wor', 'ld!'];
    server = await startLoopbackServer((request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const last = request.headers['last-event-id'];
      const from = last === undefined ? 0 : Number(last) + 1;
      const upTo = last === undefined ? 2 : pieces.length;
      for (let index = from; index < upTo; index++) response.write(`id: ${index}\ndata: ${chunk(pieces[index]!)}\n\n`);
      if (upTo < pieces.length) return void response.end();
      response.end(`id: ${pieces.length}\nevent: done\ndata: [DONE]\n\n`);
    });
    const snapshot = await lastValueFrom(
      client(fromServerSentEvents({ url: `${server.url}/chat/a` })),
    );
    expect(snapshot.content).toBe('Hello, world!');
    expect(server.requests.map((request) => request.headers['last-event-id'])).toEqual([undefined, '1']);
  }, 20_000);

  it('calls a url function on every subscription (failover to another instance)', async () => {
    const other = await startLoopbackServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end('id: 2\ndata: from B\n\n');
    });
    try {
      server = await startLoopbackServer((_request, response) => {
        response.writeHead(503).end();
      });
      const urls = [`${server.url}/a`, `${other.url}/b`];
      let attempt = 0;
      const data = await lastValueFrom(
        fromServerSentEvents({ url: () => urls[attempt++ % urls.length]!, lastEventId: '1' }).pipe(
          map((event) => event.data),
          retryWithBackoff({ initialDelay: 1, jitter: 'none', maxRetries: 2 }),
          toArray(),
        ),
      );
      expect(data).toEqual(['from B']);
      expect(other.requests[0]!.headers['last-event-id']).toBe('1');
      expect(server.requests[0]!.headers['last-event-id']).toBe('1');
    } finally {
      await other.close();
    }
  }, 20_000);

  it('sends a non-ASCII last event id as its UTF-8 bytes, as EventSource does', async () => {
    server = await startLoopbackServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      if (server!.requests.length > 1) return void response.end();
      response.write('id: café-中\ndata: a\n\n');
      setTimeout(() => response.socket?.destroy(), 30);
    });
    // The retry chain carries the last event id to its next subscription.
    await lastValueFrom(fromServerSentEvents({ url: server.url }).pipe(retryWithBackoff({ initialDelay: 0, maxRetries: 1 }), toArray()));
    // Node reads header bytes as latin1.
    expect(Buffer.from(server.requests[1]!.headers['last-event-id'] as string, 'latin1').toString('utf8')).toBe('café-中');
  }, 20_000);

  it('an empty id: stops the next subscription from sending Last-Event-ID', async () => {
    server = await startLoopbackServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end('id: 4\ndata: a\n\nid:\ndata: b\n\n');
    });
    const source = fromServerSentEvents({ url: server.url });
    const first = await lastValueFrom(source.pipe(toArray()));
    const again = await lastValueFrom(source.pipe(toArray()));
    expect(server.requests[1]!.headers['last-event-id']).toBeUndefined();
    expect(streamStartOf(again[0])).toMatchObject({ resumed: false });
    expect(streamStartOf(again[0])!.stream).not.toBe(streamStartOf(first[0])!.stream);
  }, 20_000);

  it('completes on 204 with no event and no second request', async () => {
    server = await startLoopbackServer((_request, response) => {
      response.writeHead(204).end();
    });
    const all = await lastValueFrom(fromServerSentEvents({ url: server.url }).pipe(retryWithBackoff({ initialDelay: 1 }), toArray()));
    expect(all).toEqual([]);
    expect(server.requests).toHaveLength(1);
  }, 20_000);

  it('fails with a non-retryable ParseError on a wrong content type, without retrying', async () => {
    server = await startLoopbackServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end('data: looks like SSE\n\n');
    });
    const error = await lastValueFrom(fromServerSentEvents({ url: server.url }).pipe(retryWithBackoff({ initialDelay: 1 }))).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ParseError);
    expect((error as ParseError).retryable).toBe(false);
    expect((error as Error).message).toMatch(/^fromServerSentEvents: expected an event stream \(text\/event-stream\)/);
    expect(server.requests).toHaveLength(1);
  }, 20_000);

  it('non-2xx is an HttpError', async () => {
    server = await startLoopbackServer((_request, response) => {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('no such stream');
    });
    const error = await lastValueFrom(fromServerSentEvents({ url: server.url })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(404);
  }, 20_000);

  it('sends a POST with an object body as JSON and a string body as it is, with the headers given', async () => {
    server = await startLoopbackServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      response.end('event: note\ndata: ok\n\n');
    });
    const first = await lastValueFrom(fromServerSentEvents({ url: server.url, body: { question: 'Hi' }, headers: () => ({ 'x-team': 'blue' }) }));
    await lastValueFrom(fromServerSentEvents({ url: server.url, body: 'plain words' }));
    expect(first).toEqual({ data: 'ok', event: 'note', id: undefined });
    const [json, text] = server.requests;
    expect(json).toMatchObject({ method: 'POST', body: '{"question":"Hi"}' });
    expect(json!.headers['content-type']).toBe('application/json');
    expect(json!.headers['x-team']).toBe('blue');
    expect(text).toMatchObject({ method: 'POST', body: 'plain words' });
    expect(text!.headers['content-type']).not.toBe('application/json');
  }, 20_000);

  it('refuses bad options before any request', () => {
    expect(() => fromServerSentEvents({ url: 'ftp://host/x' })).toThrow(TypeError);
    expect(() => fromServerSentEvents({ url: 'http://user:pw@host/x' })).toThrow(/credentials/);
    expect(() => fromServerSentEvents({ url: 'http://host/x', body: 42 as never })).toThrow(/options.body/);
    expect(() => fromServerSentEvents({ url: 'http://host/x', lastEventId: 'a\nb' })).toThrow(TypeError);
    expect(() => fromServerSentEvents({ url: 'http://host/x', idleTimeout: -1 })).toThrow(RangeError);
    expect(() => fromServerSentEvents({ url: 3 as never })).toThrow(TypeError);
  });
});
