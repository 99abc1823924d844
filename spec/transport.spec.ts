import { asyncScheduler, config, lastValueFrom, take, toArray, type SchedulerLike } from 'rxjs';
import { DONE, fromChatCompletion, IdleTimeoutError, isRetryable, ParseError, untilDone, accumulateContent } from '../src/index.js';
import { decodeUtf8, fetchBytes, parseServerSentEvents } from '../src/transport';
import { lineEndNormalizer } from '../src/transport/lineEndNormalizer';
import { streamStartOf } from '../src/streamStart';
import { sleep, waitFor, writeApart, sseHeaders } from './support/loopbackServer';
import { serveEachTest } from './support/serveEachTest';

const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] } as const;
const chunk = (content: string) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}`;

describe('the transport', () => {
  const serve = serveEachTest();

  describe('the one CR rule', () => {
    it('a read of exactly "\\n" after a read ending in "\\r" drops that LF only (reads …\\r | \\n | \\ndata: [DONE])', async () => {
      const server = await serve(async (_request, response) => {
        sseHeaders(response);
        await writeApart(response, [`${chunk('one')}\r`, '\n', '\ndata: [DONE]\n\n'], 40);
        response.end();
      });
      const events = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body }).pipe(toArray()));
      expect(events).toHaveLength(2);
      expect(events[1]).toBe(DONE);
    });

    it.each([
      [['a\r', '\n', '\nb'], 'a\n\nb'],
      [['a\r', '\r\n', 'b'], 'a\n\nb'],
      [['a\r', '', '\nb'], 'a\nb'],
      [['a\r\n\r', '\n', 'b\r'], 'a\n\nb\n'],
      [['\r', '\r', '\n\n'], '\n\n\n'],
    ])('pieces %j become %j', (pieces, expected) => {
      const toLF = lineEndNormalizer();
      expect(pieces.map(toLF).join('')).toBe(expected);
    });
  });

  describe('teardown', () => {
    /** A `fetch` over the real network that ignores the abort signal. */
    const deafFetch = (url: string, init: RequestInit) => globalThis.fetch(url, { ...init, signal: null });

    it('unsubscribing cancels the body reader: the server sees the connection close even when fetch ignores the signal', async () => {
      const server = await serve(async (_request, response) => {
        sseHeaders(response);
        response.write(`${chunk('first')}\n\n`);
      });
      const first = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body, fetch: deafFetch }).pipe(take(1)));
      expect(first).toMatchObject({ choices: [{ delta: { content: 'first' } }] });
      let closed = false;
      void server.requests[0]!.closed.then(() => (closed = true));
      await waitFor(() => closed, 10_000);
      expect(closed).toBe(true);
    });

    it('an idle timeout before the headers, with a fetch that ignores the signal: the error comes, and the late response is closed', async () => {
      const server = await serve(async (_request, response) => {
        await sleep(400);
        if (response.destroyed) return;
        sseHeaders(response);
        for (let i = 0; i < 1000 && !response.destroyed; i++) {
          response.write(': keep-alive\n\n');
          await sleep(25);
        }
        response.end();
      });
      const error = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body, fetch: deafFetch, idleTimeout: 100 })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IdleTimeoutError);
      let closed = false;
      void server.requests[0]!.closed.then(() => (closed = true));
      await waitFor(() => closed, 10_000);
      expect(closed).toBe(true);
    });

    it('after take(1), no extra value and no NetworkError reach onStoppedNotification or onUnhandledError', async () => {
      const server = await serve(async (_request, response) => {
        sseHeaders(response);
        response.write(`${chunk('a')}\n\n${chunk('b')}\n\n${chunk('c')}\n\n`);
        await sleep(50);
        response.destroy();
      });
      const stopped = jest.fn();
      const unhandled = jest.fn();
      const saved = { onStoppedNotification: config.onStoppedNotification, onUnhandledError: config.onUnhandledError };
      config.onStoppedNotification = stopped;
      config.onUnhandledError = unhandled;
      try {
        const values = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body }).pipe(take(1), toArray()));
        expect(values).toHaveLength(1);
        let closed = false;
        void server.requests[0]!.closed.then(() => (closed = true));
        await waitFor(() => closed, 10_000);
        await sleep(100);
        expect(stopped.mock.calls).toEqual([]);
        expect(unhandled.mock.calls).toEqual([]);
      } finally {
        Object.assign(config, saved);
      }
    });
  });

  it('aborts a request left mid-body, and leaves alone one whose body was read to its end', async () => {
    const server = await serve(async (request, response) => {
      sseHeaders(response);
      response.write(`${chunk('a')}\n\n`);
      if (request.url!.includes('/whole/')) return void response.end('data: [DONE]\n\n');
      await sleep(2_000);
      if (!response.destroyed) response.end('data: [DONE]\n\n');
    });
    const signals: AbortSignal[] = [];
    const recordingFetch = (url: string, init: RequestInit) => {
      signals.push(init.signal!);
      return globalThis.fetch(url, init);
    };
    const whole = await lastValueFrom(fromChatCompletion({ baseURL: `${server.url}/whole`, body, fetch: recordingFetch }).pipe(toArray()));
    expect(whole.at(-1)).toBe(DONE);
    const first = await lastValueFrom(fromChatCompletion({ baseURL: `${server.url}/half`, body, fetch: recordingFetch }).pipe(take(1)));
    expect(first).toMatchObject({ choices: [{ delta: { content: 'a' } }] });
    // The abort comes once what had already arrived is read (by the next macrotask).
    await new Promise((resolve) => (signals[1]!.aborted ? resolve(undefined) : signals[1]!.addEventListener('abort', resolve)));
    expect(signals.map((signal) => signal.aborted)).toEqual([false, true]);
  });

  it('does not abort a body that ends right after the [DONE] where untilDone stops (no AbortError, the connection is not torn down)', async () => {
    const server = await serve((_request, response) => {
      sseHeaders(response);
      response.write(`${chunk('a')}\n\n`);
      response.end('data: [DONE]\n\n');
    });
    const signals: AbortSignal[] = [];
    const recordingFetch = (url: string, init: RequestInit) => {
      signals.push(init.signal!);
      return globalThis.fetch(url, init);
    };
    for (let i = 0; i < 5; i++) {
      const chunks = await lastValueFrom(fromChatCompletion({ baseURL: `${server.url}/whole`, body, fetch: recordingFetch }).pipe(untilDone(), toArray()));
      expect(chunks).toHaveLength(1);
    }
    await sleep(100);
    expect(signals.map((signal) => signal.aborted)).toEqual([false, false, false, false, false]);
  });

  it('looks fetch up on every subscription, so a fetch patched after the source was made (MSW, zone.js) is used', async () => {
    const server = await serve((_request, response) => {
      sseHeaders(response);
      response.end(`${chunk('hi')}\n\ndata: [DONE]\n\n`);
    });
    const source = fromChatCompletion({ baseURL: server.url, body });
    const original = globalThis.fetch;
    const seen: string[] = [];
    globalThis.fetch = ((url: string, init: RequestInit) => {
      seen.push(url);
      return original(url, init);
    }) as typeof fetch;
    try {
      await lastValueFrom(source.pipe(toArray()));
    } finally {
      globalThis.fetch = original;
    }
    expect(seen).toEqual([`${server.url}/chat/completions`]);
  });

  it('marks the first chunk of each subscription as a fresh start, and only the first', async () => {
    const server = await serve((_request, response) => {
      sseHeaders(response);
      response.end(`${chunk('a')}\n\n${chunk('b')}\n\ndata: [DONE]\n\n`);
    });
    const source = fromChatCompletion({ baseURL: server.url, body });
    for (let subscription = 0; subscription < 2; subscription++) {
      const events = await lastValueFrom(source.pipe(toArray()));
      expect(events.map((event) => streamStartOf(event))).toEqual([{ resumed: false }, undefined, undefined]);
    }
  });

  describe('the idle timeout', () => {
    it('IdleTimeoutError names the source, like every other error, and is retryable', async () => {
      const server = await serve((_request, response) => sseHeaders(response));
      const error = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body, idleTimeout: 100 })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IdleTimeoutError);
      expect((error as Error).message).toMatch(/^fromChatCompletion: No data arrived for 100 ms/);
      expect(isRetryable(error)).toBe(true);
    });

    it('runs on options.scheduler', async () => {
      const server = await serve(async (_request, response) => {
        sseHeaders(response);
        await writeApart(response, [`${chunk('a')}\n\n`, 'data: [DONE]\n\n'], 20);
        response.end();
      });
      const delays: number[] = [];
      const scheduler = {
        now: () => asyncScheduler.now(),
        schedule: (work: never, delay = 0, state?: unknown) => {
          delays.push(delay);
          return asyncScheduler.schedule(work, delay, state);
        },
      } as SchedulerLike;
      const snapshot = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body, idleTimeout: 5000, scheduler }).pipe(untilDone(), accumulateContent()));
      expect(snapshot.content).toBe('a');
      expect(delays[0]).toBe(5000);
    });

    it('a bad options.scheduler is a TypeError before any request', () => {
      expect(() => fromChatCompletion({ body, scheduler: {} as SchedulerLike })).toThrow(TypeError);
      expect(() => fromChatCompletion({ body, scheduler: 5 as unknown as SchedulerLike })).toThrow(/SchedulerLike/);
    });
  });
});

describe('fetchBytes and parseServerSentEvents, for the sources to come', () => {
  const serve = serveEachTest();

  it('computes the request per subscription (a GET to another URL, a Last-Event-ID) and exposes id, event and retry', async () => {
    const server = await serve((request, response) => {
      sseHeaders(response);
      response.end(`retry: 1500\nid: ${request.url === '/first' ? '1' : '2'}\nevent: delta\ndata: ${request.url}\n\n`);
    });
    let attempt = 0;
    let lastEventId = '';
    const retries: number[] = [];
    const events$ = fetchBytes(
      () => ({
        method: attempt++ === 0 ? 'POST' : 'GET',
        url: `${server.url}/${attempt === 1 ? 'first' : 'resume'}`,
        headers: lastEventId ? { 'Last-Event-ID': lastEventId } : ({} as Record<string, string>),
        secrets: [],
      }),
      { source: 'test', contentType: 'event-stream' },
    ).pipe(decodeUtf8(), parseServerSentEvents({ source: 'test', onRetry: (ms) => retries.push(ms) }));
    const first = await lastValueFrom(events$.pipe(toArray()));
    lastEventId = first[0]!.id!;
    const second = await lastValueFrom(events$.pipe(toArray()));
    expect([...first, ...second]).toEqual([
      { id: '1', event: 'delta', data: '/first' },
      { id: '2', event: 'delta', data: '/resume' },
    ]);
    expect(retries).toEqual([1500, 1500]);
    expect(server.requests.map((request) => [request.method, request.path, request.headers['last-event-id']])).toEqual([
      ['POST', '/first', undefined],
      ['GET', '/resume', '1'],
    ]);
  });

  it('a 204 completes with no bytes; with contentType "event-stream" any other type is a non-retryable ParseError', async () => {
    const server = await serve((request, response) => {
      if (request.url === '/none') response.writeHead(204).end();
      else response.writeHead(200, { 'content-type': 'text/plain' }).end('data: hi\n\n');
    });
    const get = (path: string) => fetchBytes(() => ({ method: 'GET', url: `${server.url}${path}`, headers: {}, secrets: [] }), { source: 'test', contentType: 'event-stream' });
    const bytes = await lastValueFrom(get('/none').pipe(toArray()));
    expect(bytes.every((chunk) => chunk.length === 0)).toBe(true);
    const error = await lastValueFrom(get('/plain').pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParseError);
    expect((error as Error).message).toMatch(/^test: expected an event stream \(text\/event-stream\) but the server answered text\/plain/);
    expect(isRetryable(error)).toBe(false);
  });
});
