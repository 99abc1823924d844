import { lastValueFrom, share, shareReplay, toArray, VirtualTimeScheduler, firstValueFrom, type Subscription } from 'rxjs';
import {
  accumulateContent,
  fromChatCompletion,
  fromResponses,
  fromServerSentEvents,
  retryWithBackoff,
  streamStartOf,
  untilDone,
  type ServerSentEvent,
} from '../src/index.js';
import { startMockChatServer, type MockChatServer } from '../src/testing/index.js';
import { sseHeaders, startLoopbackServer, waitFor, sleep, type LoopbackServer } from './support/loopbackServer';

/**
 * Cold means cold: what a retry carries over (the last event id, the resume
 * point, the continuation text) belongs to the retry chain of one
 * subscription, never to the observable.
 */
const retry = <T>() => retryWithBackoff<T>({ initialDelay: 0, jitter: 'none', maxRetries: 3 });
const lastEventIds = (server: LoopbackServer) => server.requests.map((request) => request.headers['last-event-id']);

describe('fromServerSentEvents is cold', () => {
  let loopback: LoopbackServer;
  afterEach(() => loopback?.close());

  /** First request of each client: two events with ids, then the connection breaks; a request with Last-Event-ID gets the rest. */
  const startServer = () =>
    startLoopbackServer((request, response) => {
      sseHeaders(response);
      if (request.headers['last-event-id'] === '2') return void response.end('id: 3\ndata: c\n\n');
      response.write('id: 1\ndata: a\n\nid: 2\ndata: b\n\n');
      setTimeout(() => response.socket?.destroy(), 30);
    });

  it('a later subscription starts fresh: no Last-Event-ID from an earlier one', async () => {
    loopback = await startServer();
    const source = fromServerSentEvents({ url: `${loopback.url}/events` });
    await lastValueFrom(source).catch(() => undefined);
    const second = await lastValueFrom(source.pipe(toArray())).catch(() => undefined);
    expect(second).toBeUndefined();
    expect(lastEventIds(loopback)).toEqual([undefined, undefined]);
  });

  it('two parallel subscriptions each start fresh', async () => {
    loopback = await startServer();
    const source = fromServerSentEvents({ url: `${loopback.url}/events` });
    const first: ServerSentEvent[] = [];
    const a = source.subscribe({ next: (event) => first.push(event), error: () => undefined });
    await waitFor(() => first.length === 2);
    const b = source.subscribe({ error: () => undefined });
    await waitFor(() => loopback.requests.length === 2);
    a.unsubscribe();
    b.unsubscribe();
    expect(lastEventIds(loopback)).toEqual([undefined, undefined]);
  });

  it('one subscription retried resumes with Last-Event-ID, marked resumed on the same stream token', async () => {
    loopback = await startServer();
    const events = await lastValueFrom(fromServerSentEvents({ url: `${loopback.url}/events` }).pipe(retry(), toArray()));
    expect(events.map((event) => event.data)).toEqual(['a', 'b', 'c']);
    expect(lastEventIds(loopback)).toEqual([undefined, '2']);
    const marks = events.map(streamStartOf).filter((mark) => mark !== undefined);
    expect(marks.map((mark) => mark!.resumed)).toEqual([false, true]);
    expect(marks[1]!.stream).toBe(marks[0]!.stream);
  });

  it('two retry chains of one source each resume their own stream', async () => {
    loopback = await startServer();
    const source = fromServerSentEvents({ url: `${loopback.url}/events` }).pipe(retry<ServerSentEvent>(), toArray());
    const [one, two] = await Promise.all([lastValueFrom(source), lastValueFrom(source)]);
    expect(one.map((event) => event.data)).toEqual(['a', 'b', 'c']);
    expect(two.map((event) => event.data)).toEqual(['a', 'b', 'c']);
    expect(lastEventIds(loopback).sort()).toEqual(['2', '2', undefined, undefined]);
  });

  it('share(): one request for every subscriber, one resume, and a new subscriber after the end starts fresh', async () => {
    loopback = await startServer();
    const shared = fromServerSentEvents({ url: `${loopback.url}/events` }).pipe(retry(), share());
    const [one, two] = await Promise.all([lastValueFrom(shared.pipe(toArray())), lastValueFrom(shared.pipe(toArray()))]);
    expect(one.map((event) => event.data)).toEqual(['a', 'b', 'c']);
    expect(two.map((event) => event.data)).toEqual(['a', 'b', 'c']);
    expect(lastEventIds(loopback)).toEqual([undefined, '2']);
    await lastValueFrom(shared);
    expect(lastEventIds(loopback)).toEqual([undefined, '2', undefined, '2']);
  });

  it('shareReplay(): a late subscriber gets the replay, with no request of its own', async () => {
    loopback = await startServer();
    const replayed = fromServerSentEvents({ url: `${loopback.url}/events` }).pipe(retry(), shareReplay());
    const first = await lastValueFrom(replayed.pipe(toArray()));
    const late = await lastValueFrom(replayed.pipe(toArray()));
    expect(late).toEqual(first);
    expect(lastEventIds(loopback)).toEqual([undefined, '2']);
  });

  it('an SSE retry: above maxRetryAfter is a clamped reconnection delay, never a reason to stop', async () => {
    loopback = await startLoopbackServer((request, response) => {
      sseHeaders(response);
      if (request.headers['last-event-id'] === '1') return void response.end('id: 2\ndata: b\n\n');
      response.write('retry: 90000\nid: 1\ndata: a\n\n');
      setTimeout(() => response.socket?.destroy(), 30);
    });
    const scheduler = new VirtualTimeScheduler();
    const delays: number[] = [];
    const result = lastValueFrom(
      fromServerSentEvents({ url: `${loopback.url}/events` }).pipe(
        retryWithBackoff({ initialDelay: 10, jitter: 'none', maxRetries: 2, scheduler, onRetry: ({ delay }) => delays.push(delay) }),
        toArray(),
      ),
    );
    const outcome = Promise.race([result.then(() => 'done', () => 'failed'), waitFor(() => delays.length === 1).then(() => 'waiting')]);
    expect(await outcome).toBe('waiting');
    expect(delays).toEqual([60_000]);
    scheduler.flush();
    expect((await result).map((event) => event.data)).toEqual(['a', 'b']);
  });
});

describe('fromResponses and the continuation mode are cold', () => {
  let server: MockChatServer;
  afterEach(() => server?.close());
  const body = { model: 'm', input: 'x', background: true, store: true };

  it('fromResponses: a later subscription after a dropped one POSTs a new response; a retried one resumes', async () => {
    server = await startMockChatServer({ scenario: { text: 'Cold sources start fresh.', tokenSize: 3 }, script: [{ fault: { kind: 'drop', afterChunks: 4 } }, {}, {}] });
    const source = fromResponses({ baseURL: `${server.url}/v1`, body, cancelOnUnsubscribe: false });
    await lastValueFrom(source.pipe(untilDone())).catch(() => undefined);
    const later = await lastValueFrom(source.pipe(untilDone(), accumulateContent()));
    expect(later.content).toBe('Cold sources start fresh.');
    expect(server.requests.map((request) => `${request.method} ${request.path}`)).toEqual(['POST /v1/responses', 'POST /v1/responses']);
  });

  it('fromChatCompletion continuation: a later subscription after a dropped one sends no continuation text', async () => {
    const USER = { role: 'user', content: 'Tell me.' } as const;
    server = await startMockChatServer({ scenario: { text: 'Continued only within one chain.', tokenSize: 3 }, script: [{ fault: { kind: 'drop', afterChunks: 4 } }, {}] });
    const source = fromChatCompletion({ baseURL: `${server.url}/v1`, body: { model: 'm', messages: [USER] }, continuation: 'vllm' });
    await lastValueFrom(source.pipe(untilDone())).catch(() => undefined);
    await lastValueFrom(source.pipe(untilDone()));
    expect(server.requests.map((request) => (request.body as { messages: unknown[] }).messages)).toEqual([[USER], [USER]]);
  });
});

describe('background answers stop billing when nobody listens', () => {
  let server: MockChatServer;
  afterEach(() => server?.close());
  const body = { model: 'm', input: 'x', background: true, store: true };
  const paths = () => server.requests.map((request) => `${request.method} ${request.path}`);

  it('unsubscribing during a retry wait cancels the background response', async () => {
    server = await startMockChatServer({ scenario: { text: 'Billing stops when nobody listens.', tokenSize: 3, paceMs: 5 }, script: [{ fault: { kind: 'drop', afterChunks: 4 } }, {}] });
    let waiting = false;
    const subscription: Subscription = fromResponses({ baseURL: `${server.url}/v1`, body })
      .pipe(untilDone(), retryWithBackoff({ initialDelay: 60_000, jitter: 'none', onRetry: () => (waiting = true) }))
      .subscribe({ error: () => undefined });
    await waitFor(() => waiting);
    subscription.unsubscribe();
    await waitFor(() => server.requests.length === 2);
    expect(paths()).toEqual(['POST /v1/responses', 'POST /v1/responses/resp_mock_1/cancel']);
  });

  it('a chain that ends in a final error cancels the background response it leaves unfinished', async () => {
    server = await startMockChatServer({ scenario: { text: 'Billing stops when nobody listens.', tokenSize: 3, paceMs: 5 }, script: [{ fault: { kind: 'drop', afterChunks: 4 } }, { fault: { kind: 'status', status: 403 } }] });
    const error = await lastValueFrom(fromResponses({ baseURL: `${server.url}/v1`, body }).pipe(untilDone(), retry())).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'HttpError' });
    await waitFor(() => paths().some((path) => path.endsWith('/cancel')));
    expect(paths().filter((path) => path.endsWith('/cancel'))).toEqual(['POST /v1/responses/resp_mock_1/cancel']);
  });

  it('an answer that completes is never cancelled', async () => {
    server = await startMockChatServer({ scenario: { text: 'Done.', tokenSize: 3 }, script: [{ fault: { kind: 'drop', afterChunks: 3 } }, {}] });
    await lastValueFrom(fromResponses({ baseURL: `${server.url}/v1`, body }).pipe(untilDone(), retry()));
    await sleep(100);
    expect(paths().some((path) => path.endsWith('/cancel'))).toBe(false);
  });
});

void firstValueFrom;
