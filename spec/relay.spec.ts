import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventSourceMessage } from 'eventsource-parser';
import { finalize, firstValueFrom, interval, lastValueFrom, map, Observable, of, take, toArray } from 'rxjs';
import { accumulateContent } from '../src/operators/accumulateContent';
import { parseRelayedChunks } from '../src/operators/parseRelayedChunks';
import { retryWithBackoff } from '../src/operators/retryWithBackoff';
import { untilDone } from '../src/operators/untilDone';
import { createRelay, type Relay } from '../src/server/createRelay';
import { memoryRelayStore } from '../src/server/memoryRelayStore';
import { redisRelayStore } from '../src/server/redisRelayStore';
import type { RelayActivity } from '../src/server/relayActivity';
import { RelayBusyError, RelayForbiddenError, RelayStreamNotFoundError, type RelayStore } from '../src/server/relayStore';
import { isRelayStreamId } from '../src/server/relayStreamId';
import { writeServerSentEvents } from '../src/server/writeServerSentEvents';
import { fromChatCompletion } from '../src/sources/fromChatCompletion';
import { fromServerSentEvents } from '../src/sources/fromServerSentEvents';
import { markStreamStart } from '../src/streamStart';
import { expectedOutput, startMockChatServer } from '../src/testing';
import { startLoopbackServer, waitFor, type LoopbackServer } from './support/loopbackServer';
import { readEvents } from './support/readEvents';
import { CLIENT_FLAVOURS, type TestClient } from './support/redisClients';
import { redisServerAvailable, startRedisServer, type RedisServer } from './support/redisServer';

jest.setTimeout(60_000);

const WORDS = Array.from({ length: 40 }, (_, n) => `w${n} `);

/** A provider stand-in: one chunk per word, `gapMs` apart; counts its requests and sees their end. */
function provider(words = WORDS, gapMs = 5) {
  const seen = { requests: 0, aborted: 0, completed: 0 };
  const source = new Observable<{ content: string }>((subscriber) => {
    seen.requests++;
    let finished = false;
    const inner = interval(gapMs)
      .pipe(
        take(words.length),
        map((n) => ({ content: words[n]! })),
      )
      .subscribe({ next: (chunk) => subscriber.next(chunk), complete: () => ((finished = true), seen.completed++, subscriber.complete()) });
    return () => {
      inner.unsubscribe();
      if (!finished) seen.aborted++;
    };
  });
  return { source, seen };
}

/** The routes of docs/backend.md, in-process: POST starts (409 for another owner's id, 503 when busy), GET resumes; `x-user` is the owner. */
function relayServer(relay: Relay, source: () => Observable<unknown>): Promise<LoopbackServer> {
  return startLoopbackServer(async (request: IncomingMessage, response: ServerResponse) => {
    try {
      const id = decodeURIComponent((request.url ?? '').split('/').pop() ?? '');
      if (!isRelayStreamId(id)) return void response.writeHead(400).end();
      const owner = typeof request.headers['x-user'] === 'string' ? request.headers['x-user'] : undefined;
      if (request.method === 'POST') {
        const started = await relay.start(id, source(), { owner });
        if (!started && !(await relay.has(id, { owner }))) return void response.writeHead(409).end();
      } else if (!(await relay.has(id, { owner }))) return void response.writeHead(204).end();
      const lastEventId = request.headers['last-event-id'];
      writeServerSentEvents(response, relay.frames(id, typeof lastEventId === 'string' ? lastEventId : undefined, { owner }));
    } catch (error) {
      if (error instanceof RelayBusyError) return void response.writeHead(503, { 'retry-after': '1' }).end();
      response.writeHead(500).end();
    }
  });
}

const text = (events: EventSourceMessage[]) =>
  events.filter((event) => event.event === undefined || event.event === 'restart').map((event) => (JSON.parse(event.data) as { content: string }).content).join('');

/** A memory store whose calls can be made to fail or wait, counting them. */
function faultyStore(inner: RelayStore = memoryRelayStore()) {
  const calls: Record<string, number> = {};
  const faults: Partial<Record<keyof RelayStore, (call: number) => Promise<void> | void>> = {};
  const store = new Proxy(inner, {
    get(target, key: keyof RelayStore) {
      // Every read goes through `read`, where the faults are.
      if (key === 'readNow') return undefined;
      const value = target[key];
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const call = (calls[key] = (calls[key] ?? 0) + 1);
        const fault = faults[key];
        if (key === 'changes') return (value as (...a: unknown[]) => unknown).apply(target, args);
        return Promise.resolve(fault?.(call)).then(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
      };
    },
  }) as RelayStore;
  return { store, calls, faults };
}

let servers: LoopbackServer[] = [];
let relays: Relay[] = [];
afterEach(async () => {
  await Promise.all(relays.map((relay) => relay.stop()));
  await Promise.all(servers.map((server) => server.close()));
  servers = [];
  relays = [];
});
/** A memory store that counts its `touch` calls. */
function countingTouches() {
  const inner = memoryRelayStore();
  let touches = 0;
  const counted: RelayStore = {
    ...inner,
    touch: (streamId, ttlMs) => {
      touches++;
      return inner.touch(streamId, ttlMs);
    },
  };
  return { inner, counted, touches: () => touches };
}

function track(relay: Relay): Relay {
  relays.push(relay);
  return relay;
}
async function serve(relay: Relay, source: () => Observable<unknown>): Promise<LoopbackServer> {
  const server = await relayServer(relay, source);
  servers.push(server);
  return server;
}

describe('createRelay (memory store)', () => {
  it('serves a reconnecting client exactly the rest, from the same provider request, with ids <log>-<seq>', async () => {
    const { source, seen } = provider();
    const relay = track(createRelay({ heartbeat: 0 }));
    const server = await serve(relay, () => source);
    const first = await readEvents(`${server.url}/chat/s1`, { method: 'POST', body: '{}' }, 7);
    expect(first.events).toHaveLength(7);
    const log = first.events[0]!.id!.split('-')[0];
    expect(first.events.map((event) => event.id)).toEqual(Array.from({ length: 7 }, (_, n) => `${log}-${n + 1}`));
    const rest = await readEvents(`${server.url}/chat/s1`, { headers: { 'last-event-id': first.events.at(-1)!.id! } });
    expect(rest.events.at(-1)).toMatchObject({ event: 'done', data: '[DONE]', id: `${log}-41` });
    expect(text(first.events) + text(rest.events)).toBe(WORDS.join(''));
    expect(seen.requests).toBe(1);
  });

  it('replays the whole stream without Last-Event-ID, answers 204 for an unknown id and 400 for a malformed one', async () => {
    const { source, seen } = provider(WORDS.slice(0, 5), 1);
    const relay = track(createRelay({ heartbeat: 0 }));
    const server = await serve(relay, () => source);
    const all = await readEvents(`${server.url}/chat/s2`, { method: 'POST', body: '{}' });
    const again = await readEvents(`${server.url}/chat/s2`, {});
    expect(text(all.events)).toBe(WORDS.slice(0, 5).join(''));
    expect(again.events).toEqual(all.events);
    expect((await readEvents(`${server.url}/chat/unknown`, {})).status).toBe(204);
    expect((await readEvents(`${server.url}/chat/${encodeURIComponent('a b')}`, {})).status).toBe(400);
    expect(seen.requests).toBe(1);
  });

  it('does not start a second provider request for an id it runs, and resolves false for an ended one', async () => {
    const { source, seen } = provider(WORDS.slice(0, 3), 20);
    const relay = track(createRelay({ heartbeat: 0 }));
    expect(await relay.start('s3', source)).toBe(true);
    expect(await relay.start('s3', source)).toBe(false);
    await lastValueFrom(relay.events('s3'));
    expect(await relay.start('s3', source)).toBe(false);
    expect(seen.requests).toBe(1);
  });

  it('stores a fresh restart of the provider stream as a restart event', async () => {
    const source = new Observable<{ content: string }>((subscriber) => {
      subscriber.next(markStreamStart({ content: 'Hel' }, { resumed: false }));
      subscriber.next(markStreamStart({ content: 'Hello' }, { resumed: false }));
      subscriber.complete();
    });
    const relay = track(createRelay({ heartbeat: 0 }));
    await relay.start('s4', source);
    const entries = await lastValueFrom(relay.events('s4').pipe(toArray()));
    expect(entries.map((entry) => [entry.event, entry.data, entry.end])).toEqual([
      [undefined, '{"content":"Hel"}', undefined],
      ['restart', '{"content":"Hello"}', undefined],
      ['done', '[DONE]', true],
    ]);
  });

  it('records a reader’s open in its first read when the store can (no touch then), and touches when the store cannot', async () => {
    for (const marksPages of [true, false]) {
      const { inner, counted, touches } = countingTouches();
      const asked: unknown[] = [];
      const store: RelayStore = {
        ...counted,
        read: async (streamId, afterSeq, limit, seen) => {
          asked.push(seen);
          const page = await inner.read(streamId, afterSeq, limit);
          return page && marksPages && seen ? { ...page, seen: true } : page;
        },
      };
      const relay = track(createRelay({ store, heartbeat: 0, ttl: 120_000 }));
      await relay.start('seen-1', new Observable<string>((subscriber) => subscriber.next('a')), { owner: 'user-7' });
      const first = await firstValueFrom(relay.events('seen-1', undefined, { owner: 'user-7' }));
      expect(first.data).toBe('a');
      expect(asked[0]).toEqual({ ttlMs: 120_000, owner: 'user-7' });
      // One touch when the reader closes; one more at its open unless the read recorded it.
      expect(touches()).toBe(marksPages ? 1 : 2);
    }
  });

  it('records no read when a reader closes at the terminal entry, and one when its client leaves before it', async () => {
    const { counted: store, touches } = countingTouches();
    const relay = track(createRelay({ store, heartbeat: 0 }));
    await relay.start('ends-1', of('a', 'b'));
    const toTheEnd = await lastValueFrom(relay.events('ends-1').pipe(toArray()));
    expect(toTheEnd.map((event) => event.data)).toEqual(['a', 'b', '[DONE]']);
    // One touch at the open (this store does not record reads in its pages), none at the end.
    expect(touches()).toBe(1);
    await relay.start('ends-2', new Observable<string>((subscriber) => subscriber.next('a')));
    expect((await firstValueFrom(relay.events('ends-2'))).data).toBe('a');
    // The open, and the close of a client that left before the end.
    expect(touches()).toBe(3);
  });

  it('aborts the provider request when no client has read the stream for abandonAfter', async () => {
    const { source, seen } = provider(WORDS, 100);
    const relay = track(createRelay({ heartbeat: 0, abandonAfter: 300 }));
    const server = await serve(relay, () => source);
    await readEvents(`${server.url}/chat/s5`, { method: 'POST', body: '{}' }, 1);
    await waitFor(() => seen.aborted === 1, 15_000);
    expect(seen.completed).toBe(0);
    const { events } = await readEvents(`${server.url}/chat/s5`, {});
    expect(events.at(-1)?.event).toBe('cancelled');
  });

  it('aborts the provider request of a client that left during start (abandonAfter plus one check)', async () => {
    const { source, seen } = provider(WORDS, 300);
    const { store, faults } = faultyStore();
    faults.claim = () => new Promise((wait) => setTimeout(wait, 400));
    const relay = track(createRelay({ store, heartbeat: 0, abandonAfter: 600 }));
    const server = await serve(relay, () => source);
    const controller = new AbortController();
    const leaving = fetch(`${server.url}/chat/left`, { method: 'POST', body: '{}', signal: controller.signal }).catch(() => undefined);
    await new Promise((wait) => setTimeout(wait, 100));
    controller.abort();
    await leaving;
    await waitFor(() => seen.requests === 1, 15_000);
    // Aborted long before the 12 s the provider takes: abandonAfter (600) plus one check (200).
    await waitFor(() => seen.aborted === 1, 10_000);
    expect(seen.completed).toBe(0);
  });

  it('answers a Last-Event-ID of another log, a malformed or hostile one, or one past the end of a live log with a restart event and the log from its start', async () => {
    const { source } = provider(WORDS.slice(0, 4), 1);
    const relay = track(createRelay({ heartbeat: 0 }));
    await relay.start('s6', source);
    const whole = await lastValueFrom(relay.events('s6').pipe(toArray()));
    const log = whole[0]!.id.split('-')[0];
    const hostile = ['deadbeef-2', 'not-an-id', '2', `${log}-x`, 'x'.repeat(100_000), `${log}-2\u0000\r\n`, '\u001b[31m', `${log}-99999999999999999999`];
    for (const lastEventId of hostile) {
      const entries = await lastValueFrom(relay.events('s6', lastEventId).pipe(toArray()));
      expect(entries.map((entry) => entry.event)).toEqual(['restart', undefined, undefined, undefined, 'done']);
      expect(entries.map((entry) => entry.data)).toEqual(whole.map((entry) => entry.data));
    }
  });

  it('hands a Last-Event-ID at or past the terminal entry the terminal entry again, at once', async () => {
    const { source } = provider(WORDS.slice(0, 3), 1);
    const relay = track(createRelay({ heartbeat: 0 }));
    await relay.start('s7', source);
    const whole = await lastValueFrom(relay.events('s7').pipe(toArray()));
    const terminal = whole.at(-1)!;
    expect(terminal).toMatchObject({ event: 'done', end: true });
    const log = terminal.id.split('-')[0];
    for (const lastEventId of [terminal.id, `${log}-99`]) {
      expect(await lastValueFrom(relay.events('s7', lastEventId).pipe(toArray()))).toEqual([terminal]);
    }
  });

  it('a restarted single-instance relay: the client resuming with its old Last-Event-ID gets a restart and the new answer, and its text is exact', async () => {
    const mock = await startMockChatServer({ script: () => ({ tokenSize: 3, paceMs: 10 }) });
    try {
      let relay = track(createRelay({ heartbeat: 0 }));
      const source = () => fromChatCompletion({ baseURL: `${mock.url}/v1`, body: { model: 'mock-model', messages: [] } }).pipe(untilDone());
      let server = await serve(relay, source);
      let connections = 0;
      let cutOnce = true;
      // The first connection breaks off after 5 events; then the relay "restarts" (a new process: a new memory store).
      const events = fromServerSentEvents({ url: () => `${server.url}/chat/gen`, body: {} }).pipe(
        map((event) => {
          if (connections === 0 && cutOnce && event.id?.endsWith('-5')) {
            cutOnce = false;
            throw Object.assign(new Error('cut'), { retryable: true });
          }
          return event;
        }),
        finalize(() => connections++),
      );
      const restarted = (async () => {
        await waitFor(() => !cutOnce, 30_000);
        await relay.stop();
        await server.close();
        servers = servers.filter((each) => each !== server);
        relay = track(createRelay({ heartbeat: 0 }));
        server = await serve(relay, source);
      })();
      const snapshot = await lastValueFrom(
        events.pipe(
          parseRelayedChunks(),
          untilDone(),
          retryWithBackoff({ initialDelay: 300, jitter: 'none', shouldRetry: () => true }),
          accumulateContent(),
        ),
      );
      await restarted;
      expect(snapshot.content).toBe(expectedOutput({ tokenSize: 3 }).content[0]);
      expect(mock.requests.filter((request) => request.path === '/v1/chat/completions')).toHaveLength(2);
    } finally {
      await mock.close();
    }
  });

  it('owners: another owner\'s POST is a 409, its GET a 204, its read a RelayForbiddenError first; the owner reads', async () => {
    const { source, seen } = provider(WORDS.slice(0, 3), 30);
    const relay = track(createRelay({ heartbeat: 0 }));
    const server = await serve(relay, () => source);
    const mine = readEvents(`${server.url}/chat/owned`, { method: 'POST', body: '{}', headers: { 'x-user': 'alice' } });
    await waitFor(() => seen.requests === 1, 15_000);
    expect((await fetch(`${server.url}/chat/owned`, { method: 'POST', body: '{}', headers: { 'x-user': 'mallory' } })).status).toBe(409);
    expect((await fetch(`${server.url}/chat/owned`, { method: 'POST', body: '{}' })).status).toBe(409);
    expect((await readEvents(`${server.url}/chat/owned`, { headers: { 'x-user': 'mallory' } })).status).toBe(204);
    expect(text((await mine).events)).toBe(WORDS.slice(0, 3).join(''));
    expect(await relay.has('owned', { owner: 'alice' })).toBe(true);
    expect(await relay.has('owned', { owner: 'mallory' })).toBe(false);
    expect(await relay.has('owned')).toBe(false);
    for (const owner of ['mallory', undefined]) {
      const first = await firstValueFrom(relay.events('owned', undefined, { owner }).pipe(toArray())).catch((error: unknown) => error);
      expect(first).toBeInstanceOf(RelayForbiddenError);
    }
    expect(seen.requests).toBe(1);
  });

  it('refuses bad stream ids and owners with a TypeError and writes nothing; reading an unknown id writes nothing', async () => {
    const { store, calls } = faultyStore();
    const relay = track(createRelay({ store, heartbeat: 0 }));
    const { source, seen } = provider(WORDS.slice(0, 1), 1);
    for (const id of ['', 'a b', 'x'.repeat(201), 'é', 'a/b', '\u0000', 42 as never]) {
      await expect(relay.start(id, source)).rejects.toBeInstanceOf(TypeError);
      expect(await relay.has(id)).toBe(false);
      await expect(lastValueFrom(relay.events(id))).rejects.toBeInstanceOf(TypeError);
    }
    await expect(relay.start('ok', source, { owner: '' })).rejects.toBeInstanceOf(TypeError);
    await expect(relay.start('ok', source, { owner: 'a\nb' })).rejects.toBeInstanceOf(TypeError);
    expect(calls.claim).toBeUndefined();
    await expect(lastValueFrom(relay.events('never-started'))).rejects.toBeInstanceOf(RelayStreamNotFoundError);
    expect(await store.state('never-started')).toBeUndefined();
    expect(await store.lastSeen('never-started')).toBeUndefined();
    expect(seen.requests).toBe(0);
    expect(isRelayStreamId('x'.repeat(200))).toBe(true);
  });

  it('sends browsers a generic error (name, retryable: false) unless exposeErrors; onError sees the provider error', async () => {
    const failing = new Observable<never>((subscriber) => subscriber.error(Object.assign(new Error('upstream http://10.0.0.1:1 said: secret'), { name: 'HttpError', retryable: true })));
    const seenErrors: Array<[unknown, string | undefined]> = [];
    const relay = track(createRelay({ heartbeat: 0, onError: (error, { streamId }) => seenErrors.push([error, streamId]) }));
    await relay.start('err', failing);
    const [event] = await lastValueFrom(relay.events('err').pipe(toArray()));
    expect(event).toMatchObject({ event: 'error', end: true });
    expect(JSON.parse(event!.data)).toEqual({ name: 'HttpError', message: 'The answer failed upstream.', retryable: false });
    expect(event!.data).not.toContain('10.0.0.1');
    expect(seenErrors).toHaveLength(1);
    expect((seenErrors[0]![0] as Error).message).toContain('10.0.0.1');
    expect(seenErrors[0]![1]).toBe('err');
    const exposing = track(createRelay({ heartbeat: 0, exposeErrors: true }));
    await exposing.start('err', failing);
    const [exposed] = await lastValueFrom(exposing.events('err').pipe(toArray()));
    expect(JSON.parse(exposed!.data)).toMatchObject({ message: 'upstream http://10.0.0.1:1 said: secret', retryable: false });
  });

  it('a provider failure reaches the browser pipeline once, as a RelayedError naming its cause, not retried against the ended log', async () => {
    const failing = new Observable<never>((subscriber) => subscriber.error(Object.assign(new Error('upstream 503 at http://10.0.0.1:1'), { name: 'HttpError', retryable: true })));
    const relay = track(createRelay({ heartbeat: 0 }));
    const server = await serve(relay, () => failing);
    let connections = 0;
    const error = await lastValueFrom(
      fromServerSentEvents({ url: () => (connections++, `${server.url}/chat/failed`), body: {} }).pipe(
        parseRelayedChunks(),
        untilDone(),
        retryWithBackoff({ initialDelay: 10, jitter: 'none' }),
        accumulateContent(),
      ),
    ).catch((failure: unknown) => failure);
    expect(error).toMatchObject({ name: 'RelayedError', upstreamName: 'HttpError', retryable: false });
    expect((error as Error).message).not.toContain('10.0.0.1');
    expect(connections).toBe(1);
  });

  it('works unbound: const { start, has, frames, events, close } = relay', async () => {
    const { start, has, frames, events, stop } = createRelay({ heartbeat: 0 });
    const { source } = provider(WORDS.slice(0, 2), 1);
    expect(await start('unbound', source)).toBe(true);
    expect(await has('unbound')).toBe(true);
    const framed = await lastValueFrom(frames('unbound').pipe(toArray()));
    expect(framed.at(-1)).toMatch(/^event: done\nid: [0-9a-f]+-3\ndata: \[DONE\]\n\n$/);
    expect(await lastValueFrom(events('unbound').pipe(toArray()))).toHaveLength(3);
    await stop();
  });

  it('rejects start with RelayBusyError beyond the store\'s maxStreams, and while closing', async () => {
    const relay = track(createRelay({ store: memoryRelayStore({ maxStreams: 1 }), heartbeat: 0 }));
    const { source, seen } = provider(WORDS, 50);
    expect(await relay.start('busy-1', source)).toBe(true);
    await expect(relay.start('busy-2', source)).rejects.toBeInstanceOf(RelayBusyError);
    await relay.close();
    await expect(relay.start('busy-3', source)).rejects.toBeInstanceOf(RelayBusyError);
    expect(seen.requests).toBe(1);
  });

  it('ends a log that reaches maxEntries with a non-retryable error entry saying so, and stops the provider', async () => {
    const relay = track(createRelay({ store: memoryRelayStore({ maxEntries: 10 }), heartbeat: 0 }));
    const { source, seen } = provider(WORDS, 2);
    await relay.start('full', source);
    const entries = await lastValueFrom(relay.events('full').pipe(toArray()));
    const last = entries.at(-1)!;
    expect(last).toMatchObject({ event: 'error', end: true });
    expect(JSON.parse(last.data)).toMatchObject({ name: 'RelayLogFullError', retryable: false });
    expect(JSON.parse(last.data).message).toContain('maxEntries');
    expect(entries.length).toBeLessThanOrEqual(11);
    expect(text(entries.slice(0, -1).map((entry) => ({ ...entry, event: undefined })) as EventSourceMessage[])).toBe(WORDS.slice(0, entries.length - 1).join(''));
    await waitFor(() => seen.aborted === 1, 15_000);
  });

  it('a failed lastSeen or renew never cuts a healthy stream', async () => {
    const { store, faults, calls } = faultyStore();
    faults.lastSeen = () => Promise.reject(new Error('store unreachable'));
    faults.renew = () => Promise.reject(new Error('store unreachable'));
    const errors: unknown[] = [];
    const relay = track(createRelay({ store, heartbeat: 0, abandonAfter: 90, leaseMs: 900, onError: (error) => errors.push(error) }));
    // 40 words 40 ms apart: several renewals (every 300 ms) and abandonment checks (every 30 ms) fail meanwhile.
    const { source, seen } = provider(WORDS, 40);
    await relay.start('bookkeeping', source);
    const entries = await lastValueFrom(relay.events('bookkeeping').pipe(toArray()));
    expect(text(entries as EventSourceMessage[])).toBe(WORDS.join(''));
    expect(entries.at(-1)).toMatchObject({ event: 'done' });
    expect(seen).toEqual({ requests: 1, aborted: 0, completed: 1 });
    expect(calls.lastSeen).toBeGreaterThan(0);
    expect(calls.renew).toBeGreaterThan(0);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('retries failed appends in order, batches what arrives meanwhile, and writes every value once', async () => {
    const { store, faults, calls } = faultyStore();
    faults.append = (call) => (call <= 3 ? Promise.reject(new Error('connection reset')) : new Promise((wait) => setTimeout(wait, 20)));
    const relay = track(createRelay({ store, heartbeat: 0 }));
    const { source } = provider(WORDS, 2);
    await relay.start('retried', source);
    const entries = await lastValueFrom(relay.events('retried').pipe(toArray()));
    expect(text(entries as EventSourceMessage[])).toBe(WORDS.join(''));
    expect(entries.map((entry) => Number(entry.id.split('-')[1]))).toEqual(Array.from({ length: 41 }, (_, n) => n + 1));
    // Fewer appends than values: those that arrived during a slow append went out together.
    expect(calls.append! - 3).toBeLessThan(WORDS.length);
  });

  it('an append whose reply was lost is not written twice', async () => {
    const inner = memoryRelayStore();
    const { store, faults } = faultyStore(inner);
    let lost = 0;
    const append = inner.append.bind(inner);
    inner.append = async (...args) => {
      const seq = await append(...args);
      if (lost++ === 2) throw new Error('reply lost');
      return seq;
    };
    faults.append = () => undefined;
    const relay = track(createRelay({ store, heartbeat: 0 }));
    const { source } = provider(WORDS.slice(0, 10), 5);
    await relay.start('lost-reply', source);
    const entries = await lastValueFrom(relay.events('lost-reply').pipe(toArray()));
    expect(text(entries as EventSourceMessage[])).toBe(WORDS.slice(0, 10).join(''));
  });

  it('appends that keep failing are retried for about leaseMs, then the lease is released without a terminal entry (another instance takes over)', async () => {
    const { store, faults } = faultyStore();
    const errors: unknown[] = [];
    const relay = track(createRelay({ store, heartbeat: 0, leaseMs: 600, onError: (error) => errors.push(error) }));
    const { source, seen } = provider(WORDS, 20);
    faults.append = () => Promise.reject(new Error('store unreachable'));
    await relay.start('unwritable', source);
    await waitFor(() => seen.aborted === 1, 15_000);
    await waitFor(() => errors.length > 1, 15_000);
    const state = await store.state('unwritable');
    expect(state).toMatchObject({ lastSeq: 0, ended: false });
    // Released (or lapsed): the next start anywhere takes it over.
    const other = track(createRelay({ store, heartbeat: 0 }));
    delete faults.append;
    let taken = false;
    for (let round = 0; round < 100 && !taken; round++) {
      taken = await other.start('unwritable', provider(WORDS.slice(0, 2), 1).source);
      if (!taken) await new Promise((wait) => setTimeout(wait, 50));
    }
    expect(taken).toBe(true);
  });

  it('a reader whose store fails ends its response without a terminal event', async () => {
    const { store, faults } = faultyStore();
    const activities: RelayActivity[] = [];
    const relay = track(createRelay({ store, heartbeat: 0, onActivity: (activity) => activities.push(activity) }));
    const { source } = provider(WORDS, 30);
    await relay.start('read-fails', source);
    const server = await startLoopbackServer((_request, response) => void writeServerSentEvents(response, relay.frames('read-fails')));
    servers.push(server);
    faults.read = (call) => (call >= 3 ? Promise.reject(new Error('connection lost')) : undefined);
    const { events } = await readEvents(server.url, {});
    expect(events.filter((event) => ['done', 'error', 'cancelled'].includes(event.event ?? ''))).toEqual([]);
    expect(activities).toContainEqual(expect.objectContaining({ type: 'readerClosed', streamId: 'read-fails', reason: 'storeError' }));
  });

  it('relays huge and hostile event data exactly (3 MB, line breaks of every kind, NUL, control characters)', async () => {
    const values = ['x'.repeat(3 * 1024 * 1024), 'a\r\nb\rc\nd', '\u0000\u001b[31m\u2028\ud83d\ude00', ''];
    const relay = track(createRelay({ heartbeat: 0 }));
    await relay.start('hostile', new Observable<{ content: string }>((subscriber) => {
      for (const content of values) subscriber.next({ content });
      subscriber.complete();
    }));
    const server = await startLoopbackServer((_request, response) => void writeServerSentEvents(response, relay.frames('hostile')));
    servers.push(server);
    const { events } = await readEvents(server.url, {});
    expect(events.filter((event) => event.event === undefined).map((event) => (JSON.parse(event.data) as { content: string }).content)).toEqual(values);
    expect(events.at(-1)).toMatchObject({ event: 'done' });
  });

  it('a producer that loses its lease stops: the provider request is aborted and nothing more is written', async () => {
    const { store, faults } = faultyStore();
    const activities: RelayActivity[] = [];
    const relay = track(createRelay({ store, heartbeat: 0, leaseMs: 300, onActivity: (activity) => activities.push(activity) }));
    const { source, seen } = provider(WORDS, 50);
    await relay.start('lost', source);
    await new Promise((wait) => setTimeout(wait, 300));
    faults.renew = () => undefined;
    const renew = store.renew;
    store.renew = async () => false;
    await waitFor(() => seen.aborted === 1, 15_000);
    store.renew = renew;
    const seq = (await store.state('lost'))!.lastSeq;
    await new Promise((wait) => setTimeout(wait, 300));
    expect((await store.state('lost'))!.lastSeq).toBe(seq);
    expect((await store.state('lost'))!.ended).toBe(false);
    expect(activities.some((activity) => activity.type === 'leaseLost')).toBe(true);
  });

  it('takes over a log whose producer stopped renewing: readers end without a terminal event, the next start continues the log after a restart', async () => {
    const shared = memoryRelayStore();
    const { store: frozenStore, faults } = faultyStore(shared);
    const a = track(createRelay({ store: frozenStore, heartbeat: 0, leaseMs: 600 }));
    const b = track(createRelay({ store: shared, heartbeat: 0, leaseMs: 600 }));
    const first = provider(WORDS, 30);
    await a.start('taken', first.source);
    const onB = lastValueFrom(b.events('taken').pipe(toArray()));
    await new Promise((wait) => setTimeout(wait, 300));
    // A freezes: its writes and renewals never come back (a paused or partitioned process).
    const frozen = new Promise<void>(() => undefined);
    faults.append = () => frozen;
    faults.renew = () => frozen;
    const readerEntries = await onB;
    expect(readerEntries.some((entry) => entry.end)).toBe(false);
    const second = provider(WORDS, 1);
    expect(await b.start('taken', second.source)).toBe(true);
    const all = await lastValueFrom(b.events('taken').pipe(toArray()));
    const restartAt = all.findIndex((entry) => entry.event === 'restart');
    expect(restartAt).toBe(readerEntries.length);
    expect(text(all.slice(restartAt) as EventSourceMessage[])).toBe(WORDS.join(''));
    expect(all.at(-1)).toMatchObject({ event: 'done', end: true });
  });

  it('a takeover calls the factory with the recorded resume point; a first value marked resumed continues without a restart', async () => {
    const store = memoryRelayStore();
    const a = track(createRelay({ store, heartbeat: 0, leaseMs: 300 }));
    const b = track(createRelay({ store, heartbeat: 0, leaseMs: 300 }));
    const resumes: Array<string | undefined> = [];
    const answer = (from: number) =>
      new Observable<{ content: string; at: number }>((subscriber) => {
        let n = from;
        const timer = setInterval(() => {
          const chunk = { content: WORDS[n]!, at: n };
          subscriber.next(n === from && from > 0 ? markStreamStart(chunk, { resumed: true }) : chunk);
          if (++n === WORDS.length) subscriber.complete();
        }, 20);
        return () => clearInterval(timer);
      });
    const factory = (resume: string | undefined) => {
      resumes.push(resume);
      return answer(resume === undefined ? 0 : Number(resume) + 1);
    };
    await a.start('resumable', factory, { resumePoint: (chunk) => String(chunk.at) });
    await new Promise((wait) => setTimeout(wait, 300));
    await a.close();
    expect(await b.start('resumable', factory, { resumePoint: (chunk) => String(chunk.at) })).toBe(true);
    const entries = await lastValueFrom(b.events('resumable').pipe(toArray()));
    expect(entries.some((entry) => entry.event === 'restart')).toBe(false);
    expect(text(entries as EventSourceMessage[])).toBe(WORDS.join(''));
    expect(resumes[0]).toBeUndefined();
    expect(Number(resumes[1])).toBeGreaterThan(0);
  });

  it('close({ drainMs }) lets a short stream finish, then hands a long one over at once: its readers end without a terminal event', async () => {
    const store = memoryRelayStore();
    const activities: RelayActivity[] = [];
    const a = track(createRelay({ store, heartbeat: 0, leaseMs: 60_000, onActivity: (activity) => activities.push(activity) }));
    const short = provider(WORDS.slice(0, 5), 20);
    const long = provider(WORDS, 200);
    await a.start('short', short.source);
    await a.start('long', long.source);
    const reader = lastValueFrom(a.events('long').pipe(toArray()));
    await a.close({ drainMs: 1_500 });
    expect(short.seen.completed).toBe(1);
    expect(long.seen.aborted).toBe(1);
    expect((await reader).some((entry) => entry.end)).toBe(false);
    expect(await store.state('long')).toMatchObject({ leased: false, ended: false });
    expect(activities).toContainEqual({ type: 'handedOver', streamId: 'long' });
    // Another instance takes it over at once, without waiting for the 60 s lease.
    const b = track(createRelay({ store, heartbeat: 0 }));
    expect(await b.start('long', provider(WORDS, 1).source)).toBe(true);
  });

  it('drops a reader whose client leaves more than maxBufferedBytes unread: its response ends without a terminal event', async () => {
    const big = Array.from({ length: 2_000 }, (_, n) => `${n}:${'x'.repeat(4_000)} `);
    const activities: RelayActivity[] = [];
    const relay = track(createRelay({ heartbeat: 0, maxBufferedBytes: 64 * 1024, onActivity: (activity) => activities.push(activity) }));
    const { source } = provider(big, 0);
    await relay.start('big', source);
    await lastValueFrom(relay.events('big'));
    let received = 0;
    const server = await startLoopbackServer((_request, response) => void writeServerSentEvents(response, relay.frames('big')));
    servers.push(server);
    // A client that reads nothing: its socket fills, the relay's buffer for it passes maxBufferedBytes.
    const { request } = await import('node:http');
    const socketClosed = new Promise<void>((done) => {
      const req = request(`${server.url}/`, (response) => {
        response.pause();
        response.on('data', (piece: Buffer) => (received += piece.length));
      });
      req.on('close', () => done());
      req.on('error', () => done());
      req.end();
    });
    await waitFor(() => activities.some((activity) => activity.type === 'readerClosed' && activity.reason === 'dropped'), 30_000);
    const closed = activities.find((activity) => activity.type === 'readerClosed' && activity.reason === 'dropped')!;
    expect(closed).toMatchObject({ reason: 'dropped' });
    expect((closed as { behind: number }).behind).toBeGreaterThan(0);
    void socketClosed;
    expect(received).toBeLessThan(8_000_000);
  });
});

const describeWithRedis = redisServerAvailable('relay spec (Redis store)') ? describe : describe.skip;

describeWithRedis.each(CLIENT_FLAVOURS.filter((flavour) => flavour.name === 'node-redis 5 RESP3' || flavour.name === 'ioredis 5').map((flavour) => [flavour.name, flavour] as const))(
  'createRelay with the Redis store (%s)',
  (_name, flavour) => {
    let redis: RedisServer;
    let clients: TestClient[] = [];
    beforeAll(async () => {
      redis = await startRedisServer();
    }, 30_000);
    afterAll(async () => {
      await redis?.stop();
    });
    afterEach(async () => {
      await Promise.all(relays.map((relay) => relay.stop()));
      relays = [];
      await Promise.all(clients.map((client) => client.close()));
      clients = [];
    });
    const redisStore = async (keyPrefix: string) => {
      const client = await flavour.connect(redis.url);
      clients.push(client);
      return redisRelayStore(client.client, { keyPrefix, blockMs: 500 });
    };

    it('serves a reconnecting client on another instance exactly the rest; at or past the end, the end again; a foreign id, a restart', async () => {
      const { source, seen } = provider(WORDS, 5);
      const a = track(createRelay({ store: await redisStore('rest:'), heartbeat: 0 }));
      const b = track(createRelay({ store: await redisStore('rest:'), heartbeat: 0 }));
      const onA = await serve(a, () => source);
      const onB = await serve(b, () => source);
      const first = await readEvents(`${onA.url}/chat/r1`, { method: 'POST', body: '{}' }, 7);
      const rest = await readEvents(`${onB.url}/chat/r1`, { method: 'POST', body: '{}', headers: { 'last-event-id': first.events.at(-1)!.id! } });
      expect(text(first.events) + text(rest.events)).toBe(WORDS.join(''));
      const terminal = rest.events.at(-1)!;
      expect(terminal).toMatchObject({ event: 'done' });
      expect((await readEvents(`${onB.url}/chat/r1`, { headers: { 'last-event-id': terminal.id! } })).events).toEqual([terminal]);
      const foreign = await readEvents(`${onA.url}/chat/r1`, { headers: { 'last-event-id': 'ffffffffffffffff-3' } });
      expect(foreign.events[0]!.event).toBe('restart');
      expect(text(foreign.events)).toBe(WORDS.join(''));
      expect(seen.requests).toBe(1);
    });

    it('close() on A hands the stream over: B takes it over at once, a restart event, then the new answer', async () => {
      const a = track(createRelay({ store: await redisStore('hand:'), heartbeat: 0, leaseMs: 60_000 }));
      const b = track(createRelay({ store: await redisStore('hand:'), heartbeat: 0, leaseMs: 60_000 }));
      const first = provider(WORDS, 100);
      await a.start('h1', first.source);
      const onA = lastValueFrom(a.events('h1').pipe(toArray()));
      await new Promise((wait) => setTimeout(wait, 400));
      await a.close();
      const left = await onA;
      expect(left.some((entry) => entry.end)).toBe(false);
      expect(first.seen.aborted).toBe(1);
      expect(await b.start('h1', provider(WORDS, 1).source)).toBe(true);
      const all = await lastValueFrom(b.events('h1').pipe(toArray()));
      const restartAt = all.findIndex((entry) => entry.event === 'restart');
      expect(restartAt).toBeGreaterThan(0);
      expect(text(all.slice(restartAt) as EventSourceMessage[])).toBe(WORDS.join(''));
    });

    it('owners on Redis: another owner is refused (409, RelayForbiddenError), nothing is written for an unknown id', async () => {
      const store = await redisStore('own:');
      const relay = track(createRelay({ store, heartbeat: 0 }));
      const { source } = provider(WORDS.slice(0, 3), 20);
      const server = await serve(relay, () => source);
      const mine = readEvents(`${server.url}/chat/o1`, { method: 'POST', body: '{}', headers: { 'x-user': 'alice' } });
      await waitFor(() => server.requests.length === 1, 10_000);
      await new Promise((wait) => setTimeout(wait, 100));
      expect((await fetch(`${server.url}/chat/o1`, { method: 'POST', body: '{}', headers: { 'x-user': 'mallory' } })).status).toBe(409);
      expect(await lastValueFrom(relay.events('o1', undefined, { owner: 'mallory' })).catch((error: unknown) => error)).toBeInstanceOf(RelayForbiddenError);
      expect(text((await mine).events)).toBe(WORDS.slice(0, 3).join(''));
      await expect(lastValueFrom(relay.events('o-unknown'))).rejects.toBeInstanceOf(RelayStreamNotFoundError);
      expect(await store.state('o-unknown')).toBeUndefined();
    });
  },
);
