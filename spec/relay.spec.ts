import type { EventSourceMessage } from 'eventsource-parser';
import { createClient } from 'redis';
import { finalize, interval, map, Observable, take } from 'rxjs';
import { createRelay, type Relay } from '../src/server/createRelay';
import { memoryRelayStore } from '../src/server/memoryRelayStore';
import { redisRelayStore, type RedisClientLike } from '../src/server/redisRelayStore';
import type { LegacyRelayStore as RelayStore } from '../src/server/legacyRelayStore';
import { writeServerSentEvents } from '../src/server/writeServerSentEvents';
import { markStreamStart } from '../src/streamStart';
import { startLoopbackServer, waitFor, type LoopbackServer } from './support/loopbackServer';
import { readEvents } from './support/readEvents';
import { redisServerAvailable, startRedisServer, type RedisServer } from './support/redisServer';

const WORDS = Array.from({ length: 40 }, (_, n) => `w${n} `);

/** A provider stand-in: one chunk per word, 5 ms apart; counts its requests and sees their end. */
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

/** Serves POST /chat/:id (start and stream) and GET /chat/:id (resume) from `relay`. */
function relayServer(relay: Relay, source: () => Observable<unknown>): Promise<LoopbackServer> {
  return startLoopbackServer(async (request, response) => {
    const id = decodeURIComponent((request.url ?? '').split('/').pop() ?? '');
    if (request.method === 'POST') await relay.start(id, source());
    else if (!(await relay.has(id))) return void response.writeHead(204).end();
    const lastEventId = request.headers['last-event-id'];
    writeServerSentEvents(response, relay.frames(id, typeof lastEventId === 'string' ? lastEventId : undefined));
  });
}

const text = (events: EventSourceMessage[]) =>
  events.filter((event) => event.event === undefined).map((event) => (JSON.parse(event.data) as { content: string }).content).join('');

type StoreKind = 'memory' | 'redis';
let redis: RedisServer | undefined;
const clients: Array<{ destroy(): void }> = [];

const STORES: StoreKind[] = redisServerAvailable('relay spec') ? ['memory', 'redis'] : ['memory'];

beforeAll(async () => {
  if (STORES.includes('redis')) redis = await startRedisServer();
}, 30_000);
afterAll(async () => {
  await redis?.stop();
});

async function makeStore(kind: StoreKind): Promise<RelayStore> {
  if (kind === 'memory') return memoryRelayStore();
  const client = createClient({ url: redis!.url });
  client.on('error', () => undefined);
  await client.connect();
  clients.push(client);
  return redisRelayStore(client as unknown as RedisClientLike, { keyPrefix: `test:${Math.random().toString(36).slice(2)}:`, blockMs: 200 });
}

describe.each<StoreKind>(STORES)('createRelay with the %s store', (kind) => {
  let servers: LoopbackServer[] = [];
  let relays: Relay[] = [];
  afterEach(async () => {
    for (const relay of relays) relay.stop();
    await Promise.all(servers.map((server) => server.close()));
    for (const client of clients.splice(0)) client.destroy();
    servers = [];
    relays = [];
  });

  it('serves a reconnecting client exactly the rest, from the same provider request', async () => {
    const { source, seen } = provider();
    const relay = createRelay({ store: await makeStore(kind), heartbeat: 0 });
    relays.push(relay);
    const server = await relayServer(relay, () => source);
    servers.push(server);

    const first = await readEvents(`${server.url}/chat/s1`, { method: 'POST', body: '{}' }, 7);
    expect(first.events).toHaveLength(7);
    const lastId = first.events.at(-1)!.id!;
    const rest = await readEvents(`${server.url}/chat/s1`, { headers: { 'last-event-id': lastId } });
    expect(rest.events.at(-1)).toMatchObject({ event: 'done', data: '[DONE]' });
    expect(text(first.events) + text(rest.events)).toBe(WORDS.join(''));
    const ids = [...first.events, ...rest.events].map((event) => event.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(seen.requests).toBe(1);
  });

  it('replays the whole stream to a client without Last-Event-ID, and answers 204 for an unknown id', async () => {
    const { source, seen } = provider(WORDS.slice(0, 5), 1);
    const relay = createRelay({ store: await makeStore(kind), heartbeat: 0 });
    relays.push(relay);
    const server = await relayServer(relay, () => source);
    servers.push(server);
    const all = await readEvents(`${server.url}/chat/s2`, { method: 'POST', body: '{}' });
    const again = await readEvents(`${server.url}/chat/s2`, {});
    expect(text(again.events)).toBe(text(all.events));
    expect(text(all.events)).toBe(WORDS.slice(0, 5).join(''));
    expect((await readEvents(`${server.url}/chat/unknown`, {})).status).toBe(204);
    expect(seen.requests).toBe(1);
  });

  it('does not start a second provider request for an id already taken', async () => {
    const { source, seen } = provider(WORDS.slice(0, 3), 1);
    const relay = createRelay({ store: await makeStore(kind), heartbeat: 0 });
    relays.push(relay);
    expect(await relay.start('s3', source)).toBe(true);
    expect(await relay.start('s3', source)).toBe(false);
    expect(seen.requests).toBe(1);
  });

  it('stores a fresh restart of the provider stream as a restart event', async () => {
    const first = markStreamStart({ content: 'Hel' }, { resumed: false });
    const again = markStreamStart({ content: 'Hello' }, { resumed: false });
    const source = new Observable<{ content: string }>((subscriber) => {
      subscriber.next(first);
      subscriber.next(again);
      subscriber.complete();
    });
    const relay = createRelay({ store: await makeStore(kind), heartbeat: 0 });
    relays.push(relay);
    const server = await relayServer(relay, () => source);
    servers.push(server);
    const { events } = await readEvents(`${server.url}/chat/s4`, { method: 'POST', body: '{}' });
    expect(events.map((event) => [event.event, event.data])).toEqual([
      [undefined, '{"content":"Hel"}'],
      ['restart', '{"content":"Hello"}'],
      ['done', '[DONE]'],
    ]);
  });

  it('aborts the provider request when no client has read the stream for abandonAfter', async () => {
    const { source, seen } = provider(WORDS, 100);
    const relay = createRelay({ store: await makeStore(kind), heartbeat: 0, abandonAfter: 300 });
    relays.push(relay);
    const server = await relayServer(relay, () => source);
    servers.push(server);
    await readEvents(`${server.url}/chat/s5`, { method: 'POST', body: '{}' }, 1);
    await waitFor(() => seen.aborted === 1, 15_000);
    expect(seen.completed).toBe(0);
    const { events } = await readEvents(`${server.url}/chat/s5`, {});
    expect(events.at(-1)?.event).toBe('cancelled');
  });

  it('rejects a Last-Event-ID it never gave out', async () => {
    const { source } = provider(WORDS.slice(0, 2), 1);
    const relay = createRelay({ store: await makeStore(kind), heartbeat: 0 });
    relays.push(relay);
    await relay.start('s6', source);
    const frames: string[] = [];
    await new Promise<void>((done) => relay.frames('s6', 'not-an-id').pipe(finalize(done)).subscribe((frame) => frames.push(frame)));
    expect(frames).toEqual(['event: error\ndata: {"name":"Error","message":"The stream failed.","retryable":false}\n\n']);
  });
});
