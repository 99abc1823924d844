import { stream as readWithReferenceClient } from '@durable-streams/client';
import { DurableStreamTestServer } from '@durable-streams/server';
import { durableStreamsRelayStore } from '../src/server/durableStreamsRelayStore';
import { defer, finalize, lastValueFrom, toArray } from 'rxjs';
import { accumulateContent } from '../src/operators/accumulateContent';
import { parseRelayedChunks, type RelayedEvent } from '../src/operators/parseRelayedChunks';
import { retryWithBackoff } from '../src/operators/retryWithBackoff';
import { untilDone } from '../src/operators/untilDone';
import { memoryRelayStore, redisRelayStore, writeDurableStreams, type RelayLease, type RelayStore } from '../src/server/index';
import { fromDurableStream, type DurableStreamLive } from '../src/sources/fromDurableStream';
import { startCuttingProxy, type Cut, type CuttingProxy } from './support/cuttingProxy';
import { checkResumes, lastResponseBody, queryOf } from './support/durableStreamsWire';
import { selectedFlavours, type TestClient } from './support/redisClients';
import { redisServerAvailable, startRedisServer, type RedisServer } from './support/redisServer';
import { serveOnLoopback } from './support/loopbackServer';

jest.setTimeout(90_000);

const WORDS = Array.from({ length: 30 }, (_, i) => `w${i}ó `);
const TEXT = WORDS.join('');
const chunkData = (text: string) => JSON.stringify({ id: 'c', choices: [{ index: 0, delta: { content: text } }] });
const claimOptions = { leaseMs: 1_500, ttlMs: 120_000 };
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
let counter = 0;
const freshId = () => `ds-${process.pid}-${++counter}`;

interface Endpoint {
  url: string;
  close(): Promise<void>;
}

/** A Node server on 127.0.0.1 serving `/streams/:id` from `store` with `writeDurableStreams`. */
async function serve(store: RelayStore, owner?: string): Promise<Endpoint> {
  return serveOnLoopback((request, response) => {
    const id = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname.replace(/^\/streams\//, ''));
    void writeDurableStreams(request, response, { store, streamId: id, owner, longPollTimeout: 1_000, heartbeat: 300 });
  });
}

/** The relay's producer, by hand: claims, appends the words from `from` one by one, ends with `done`. */
async function produce(store: RelayStore, lease: RelayLease, from: number, gap: number): Promise<void> {
  for (let i = from; i < WORDS.length; i++) {
    await store.append(lease, [{ data: chunkData(WORDS[i]!) }]);
    if (gap > 0) await pause(gap);
  }
  await store.end(lease, { event: 'done', data: '[DONE]' }, 60_000);
}

async function claim(store: RelayStore, id: string, owner?: string): Promise<RelayLease> {
  const claimed = await store.claim(id, { ...claimOptions, owner });
  if (claimed.status !== 'created' && claimed.status !== 'takenOver') throw new Error(`claim: ${claimed.status}`);
  return claimed.lease;
}

interface StoreCase {
  name: string;
  make(): Promise<{ store: RelayStore; dispose(): Promise<void> }>;
}

let redis: RedisServer | undefined;
const redisFlavour = selectedFlavours().find((flavour) => flavour.name === 'node-redis 5 RESP3') ?? selectedFlavours()[0];
const STORES: StoreCase[] = [{ name: 'memory store', make: async () => ({ store: memoryRelayStore(), dispose: async () => undefined }) }];
if (redisServerAvailable('durableStreamsResponse.spec') && redisFlavour) {
  STORES.push({
    name: `Redis store (${redisFlavour.name})`,
    make: async () => {
      redis ??= await startRedisServer();
      const client: TestClient = await redisFlavour.connect(redis.url);
      const store = redisRelayStore(client.client, { blockMs: 500 });
      return {
        store,
        dispose: async () => {
          await store.close?.();
          await client.close();
        },
      };
    },
  });
}
// The relay's logs kept on the reference Durable Streams server (durableStreamsRelayStore), served by our endpoint.
let reference: DurableStreamTestServer | undefined;
STORES.push({
  name: 'Durable Streams store (on @durable-streams/server)',
  make: async () => {
    reference ??= await startReference();
    return { store: durableStreamsRelayStore({ baseUrl: `${reference.url}/v1/stream/` }), dispose: async () => undefined };
  },
});
async function startReference(): Promise<DurableStreamTestServer> {
  const server = new DurableStreamTestServer({ port: 0, host: '127.0.0.1', compression: false, longPollTimeout: 5_000 });
  await server.start();
  return server;
}

afterAll(async () => {
  await redis?.stop();
  await reference?.stop();
});

describe.each(STORES)('Durable Streams over relay logs, $name', ({ make }) => {
  let store: RelayStore;
  let dispose: () => Promise<void>;
  let endpoint: Endpoint;
  let proxy: CuttingProxy | undefined;
  beforeAll(async () => {
    ({ store, dispose } = await make());
    endpoint = await serve(store);
  });
  afterAll(async () => {
    await endpoint.close();
    await dispose();
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  const afterDataEvent = (n: number): Cut => ({ text: '}]\n\n', occurrence: n });

  it.each<[DurableStreamLive, readonly Cut[]]>([
    ['sse', [500, afterDataEvent(2), afterDataEvent(3), 900, afterDataEvent(1), afterDataEvent(4)]],
    ['long-poll', [500, 700, 650]],
  ])('fromDurableStream (live %p) reads a relay log being written: exact text through cut connections, each resume at the offset the wire had delivered', async (live, cuts) => {
    const id = freshId();
    const lease = await claim(store, id);
    for (let i = 0; i < 4; i++) await store.append(lease, [{ data: chunkData(WORDS[i]!) }]);
    proxy = await startCuttingProxy({ host: '127.0.0.1', port: Number(new URL(endpoint.url).port) }, cuts);
    const snapshots = fromDurableStream<RelayedEvent>({ url: `${proxy.url}/streams/${id}`, live }).pipe(
      parseRelayedChunks(),
      untilDone(),
      retryWithBackoff({ initialDelay: 5, jitter: 'none', maxRetries: 20 }),
      accumulateContent(),
      toArray(),
    );
    const [all] = await Promise.all([lastValueFrom(snapshots), produce(store, lease, 4, 15)]);
    expect(all.at(-1)!.content).toBe(TEXT);
    for (let i = 1; i < all.length; i++) expect(all[i]!.content.startsWith(all[i - 1]!.content)).toBe(true);
    const cutCount = proxy.connections.filter((connection) => connection.cut).length;
    expect(cutCount).toBeGreaterThanOrEqual(2);
    expect(checkResumes(proxy)).toBe(cutCount);
    if (live === 'sse') {
      const midTail = proxy.connections.filter(
        (connection) => connection.cut && queryOf(connection.requests.at(-1)!).get('live') === 'sse' && /event: control/.test(lastResponseBody(connection)),
      );
      expect(midTail.length).toBeGreaterThan(0);
    }
  });

  it('@durable-streams/client reads a relay log being written, live, to its close: every message exact and in order', async () => {
    const id = freshId();
    const lease = await claim(store, id);
    await store.append(lease, [{ data: chunkData(WORDS[0]!) }]);
    const read = (async () => {
      const response = await readWithReferenceClient<RelayedEvent>({ url: `${endpoint.url}/streams/${id}`, live: true });
      const items: RelayedEvent[] = [];
      const reader = response.jsonStream().getReader();
      for (let i = 0; i < 1_000; i++) {
        const { done, value } = await reader.read();
        if (done) break;
        items.push(value);
      }
      return items;
    })();
    await produce(store, lease, 1, 10);
    const items = await read;
    const state = await store.state(id);
    expect(items.map((item) => item.data)).toEqual([...WORDS.map(chunkData), '[DONE]']);
    expect(items.map((item) => item.id)).toEqual(items.map((_, i) => `${state!.log}-${i + 1}`));
    expect(items.at(-1)!.event).toBe('done');
  });

  it('a producer that dies mid-answer: the SSE reader is ended without streamClosed, reconnects, and reads the takeover exact (restart, then the new answer)', async () => {
    const id = freshId();
    const first = await claim(store, id);
    for (let i = 0; i < 5; i++) await store.append(first, [{ data: chunkData(WORDS[i]!) }]);
    const requests: string[] = [];
    const snapshots = fromDurableStream<RelayedEvent>({
      url: `${endpoint.url}/streams/${id}`,
      live: 'sse',
      fetch: (url, init) => {
        requests.push(url);
        return fetch(url, init);
      },
    }).pipe(parseRelayedChunks(), untilDone(), retryWithBackoff({ initialDelay: 5, jitter: 'none' }), accumulateContent(), toArray());
    const done = lastValueFrom(snapshots);
    // The first producer stops renewing (killed). Within its lease plus a heartbeat the reader's SSE response
    // ends without streamClosed, and the reader comes back at its offset (a second SSE request).
    const sseRequests = () => requests.filter((url) => new URL(url).searchParams.get('live') === 'sse').length;
    for (let i = 0; i < 400 && sseRequests() < 2; i++) await pause(50);
    expect(sseRequests()).toBeGreaterThanOrEqual(2);
    const claimed = await store.claim(id, claimOptions);
    expect(claimed).toMatchObject({ status: 'takenOver', lastSeq: 5, lease: { epoch: first.epoch + 1 } });
    const takeover = (claimed as { lease: RelayLease }).lease;
    // The dead producer is fenced: its late append is refused.
    await expect(store.append(first, [{ data: chunkData('zombie') }])).rejects.toMatchObject({ name: 'RelayLeaseLostError' });
    // A producer that cannot resume starts over: `restart` carries the first chunk of the new answer.
    await store.append(takeover, [{ event: 'restart', data: chunkData(WORDS[0]!) }]);
    await produce(store, takeover, 1, 5);
    const all = await done;
    expect(all.at(-1)!.content).toBe(TEXT);
  });

  it('speaks the protocol: HEAD, catch-up with Stream-Closed, offset=now, another log\u2019s offset is 410, writes are 405, other owners 404', async () => {
    const id = freshId();
    const lease = await claim(store, id, 'alice');
    await store.append(lease, [{ data: 'a' }, { event: 'note', data: 'b' }]);
    const owned = await serve(store, 'alice');
    try {
      const base = `${owned.url}/streams/${id}`;
      const head = await fetch(base, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('stream-closed')).toBeNull();
      const tail = head.headers.get('stream-next-offset')!;
      const all = await fetch(`${base}?offset=-1`);
      expect(all.headers.get('stream-next-offset')).toBe(tail);
      expect(all.headers.get('stream-up-to-date')).toBe('true');
      const log = (await store.state(id))!.log;
      expect(await all.json()).toEqual([
        { id: `${log}-1`, data: 'a' },
        { id: `${log}-2`, event: 'note', data: 'b' },
      ]);
      const etag = all.headers.get('etag')!;
      expect((await fetch(`${base}?offset=-1`, { headers: { 'if-none-match': etag } })).status).toBe(304);
      const now = await fetch(`${base}?offset=now`);
      expect(await now.json()).toEqual([]);
      expect(now.headers.get('stream-next-offset')).toBe(tail);
      await store.end(lease, { event: 'done', data: '[DONE]' }, 60_000);
      const rest = await fetch(`${base}?offset=${encodeURIComponent(tail)}`);
      expect(await rest.json()).toEqual([{ id: `${log}-3`, event: 'done', data: '[DONE]' }]);
      expect(rest.headers.get('stream-closed')).toBe('true');
      const eof = await fetch(`${base}?offset=${encodeURIComponent(rest.headers.get('stream-next-offset')!)}&live=long-poll`);
      expect(eof.status).toBe(204);
      expect(eof.headers.get('stream-closed')).toBe('true');
      expect(etag).not.toBe(rest.headers.get('etag'));
      expect((await fetch(`${base}?offset=${'f'.repeat(16)}_0000000000000001`)).status).toBe(410);
      expect((await fetch(`${base}?offset=garbage`)).status).toBe(400);
      expect((await fetch(`${base}?offset=-1&live=websocket`)).status).toBe(400);
      expect((await fetch(base, { method: 'POST', body: '[]', headers: { 'content-type': 'application/json' } })).status).toBe(405);
      expect((await fetch(`${endpoint.url}/streams/${id}?offset=-1`)).status).toBe(404);
      expect((await fetch(`${owned.url}/streams/no-such-${id}?offset=-1`)).status).toBe(404);
    } finally {
      await owned.close();
    }
  });

  it('a client that goes away mid-SSE stops the reading: the store is no longer watched', async () => {
    const id = freshId();
    const lease = await claim(store, id);
    await store.append(lease, [{ data: chunkData(WORDS[0]!) }]);
    let watching = 0;
    const counted: RelayStore = Object.assign(Object.create(store) as RelayStore, {
      changes: (streamId: string) => defer(() => {
        watching++;
        return store.changes(streamId).pipe(finalize(() => watching--));
      }),
    });
    const watched = await serve(counted);
    try {
      const controller = new AbortController();
      const response = await fetch(`${watched.url}/streams/${id}?offset=-1&live=sse`, { signal: controller.signal });
      const reader = response.body!.getReader();
      const { value } = await reader.read();
      expect(new TextDecoder().decode(value)).toContain('event: data');
      expect(watching).toBe(1);
      controller.abort();
      await reader.cancel().catch(() => undefined);
      for (let i = 0; i < 200 && watching > 0; i++) await pause(25);
      expect(watching).toBe(0);
    } finally {
      await watched.close();
    }
    // The server keeps working for others.
    await store.end(lease, { event: 'done', data: '[DONE]' }, 60_000);
    const all = await lastValueFrom(fromDurableStream<RelayedEvent>({ url: `${endpoint.url}/streams/${id}`, live: false }).pipe(toArray()));
    expect(all.map((event) => event.event ?? 'data')).toEqual(['data', 'done']);
  });
});
