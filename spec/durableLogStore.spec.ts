import { DurableStream, IdempotentProducer, stream as readWithReferenceClient } from '@durable-streams/client';
import { durableLogResponse, memoryDurableLogStore, redisDurableLogStore, writeDurableLog, type DurableLogStore } from '../src/server/index';
import { selectedFlavours, type TestClient } from './support/redisClients';
import { redisServerAvailable, startRedisServer, type RedisServer } from './support/redisServer';
import { serveOnLoopback } from './support/loopbackServer';

// The general Durable Streams log store and handler (writeDurableLog), on the memory store and on
// Redis with every supported client, written and read by the reference client @durable-streams/client
// and by plain fetch; live readers woken by writes on another instance. The official conformance
// suite runs on both stores too (npm run conformance).

jest.setTimeout(60_000);

interface Endpoint {
  url: string;
  close(): Promise<void>;
}

async function serve(store: DurableLogStore): Promise<Endpoint> {
  return serveOnLoopback((request, response) => void writeDurableLog(request, response, { store, longPollTimeout: 20_000 }));
}

/** Every byte value, CR/LF pairs, NUL, a lone UTF-8 continuation byte and half a surrogate. */
const HOSTILE = [
  Uint8Array.from({ length: 256 }, (_, i) => i),
  new Uint8Array([13, 10, 13, 0, 10, 0x80, 0xed, 0xa0]),
  new TextEncoder().encode('data: not an event\n\nid: 1\r\n'),
];
const concat = (parts: readonly Uint8Array[]) => Buffer.concat(parts.map((part) => Buffer.from(part)));
const unique = (name: string) => `/v1/stream/${name}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

/** Two instances over one store family: the same store for memory, two clients of one Redis for Redis. */
interface Target {
  name: string;
  open(): Promise<{ a: Endpoint; b: Endpoint; close(): Promise<void> }>;
}

const targets: Target[] = [
  {
    name: 'memoryDurableLogStore',
    async open() {
      const store = memoryDurableLogStore();
      const a = await serve(store);
      const b = await serve(store);
      return { a, b, close: async () => void (await Promise.all([a.close(), b.close(), store.close?.()])) };
    },
  },
];

let redis: RedisServer | undefined;
const redisReady = redisServerAvailable('durableLogStore.spec');
if (redisReady) {
  for (const flavour of selectedFlavours()) {
    targets.push({
      name: `redisDurableLogStore (${flavour.name})`,
      async open() {
        redis ??= await startRedisServer();
        const clients: TestClient[] = [await flavour.connect(redis.url), await flavour.connect(redis.url)];
        const stores = clients.map((client) => redisDurableLogStore(client.client));
        const a = await serve(stores[0]!);
        const b = await serve(stores[1]!);
        return {
          a,
          b,
          close: async () => {
            await Promise.all([a.close(), b.close()]);
            for (const store of stores) await store.close?.();
            for (const client of clients) await client.close();
          },
        };
      },
    });
  }
}

afterAll(async () => {
  await redis?.stop();
});

describe.each(targets)('$name', (target) => {
  it('an IdempotentProducer of @durable-streams/client writes hostile bytes through instance A; the reference client reads them exact from B', async () => {
    const { a, b, close } = await target.open();
    try {
      const path = unique('bytes');
      const handle = await DurableStream.create({ url: `${a.url}${path}`, contentType: 'application/octet-stream' });
      const producer = new IdempotentProducer(handle, 'writer-1', { epoch: 0, autoClaim: false });
      for (const part of HOSTILE) producer.append(part);
      await producer.flush();
      await producer.close();
      const response = await readWithReferenceClient({ url: `${b.url}${path}`, offset: '-1', live: false });
      expect(Buffer.from(await response.body())).toEqual(concat(HOSTILE));
      const head = await fetch(`${b.url}${path}`, { method: 'HEAD' });
      expect(head.headers.get('stream-closed')).toBe('true');
    } finally {
      await close();
    }
  });

  it('a retried append (same producer, epoch, seq) on the other instance is written once; an older epoch is fenced with 403', async () => {
    const { a, b, close } = await target.open();
    try {
      const path = unique('producer');
      expect((await fetch(`${a.url}${path}`, { method: 'PUT', headers: { 'content-type': 'application/json' } })).status).toBe(201);
      const post = (url: string, epoch: number, seq: number, value: unknown) =>
        fetch(`${url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'producer-id': 'relay-1', 'producer-epoch': String(epoch), 'producer-seq': String(seq) },
          body: JSON.stringify(value),
        });
      expect((await post(a.url, 1, 0, { n: 0 })).status).toBe(200);
      const retried = await post(b.url, 1, 0, { n: 0 });
      expect(retried.status).toBe(204);
      expect(retried.headers.get('producer-seq')).toBe('0');
      expect((await post(b.url, 2, 0, { n: 1 })).status).toBe(200);
      const fenced = await post(a.url, 1, 1, { n: 'stale' });
      expect(fenced.status).toBe(403);
      expect(fenced.headers.get('producer-epoch')).toBe('2');
      const gap = await post(a.url, 2, 5, { n: 'gap' });
      expect(gap.status).toBe(409);
      expect(gap.headers.get('producer-expected-seq')).toBe('1');
      expect(await (await fetch(`${b.url}${path}?offset=-1`)).json()).toEqual([{ n: 0 }, { n: 1 }]);
    } finally {
      await close();
    }
  });

  it('a long-poll reader waiting on instance B wakes with the data appended on instance A, and an SSE reader on B sees the close', async () => {
    const { a, b, close } = await target.open();
    try {
      const path = unique('live');
      const created = await fetch(`${a.url}${path}`, { method: 'PUT', headers: { 'content-type': 'text/plain' } });
      const tail = created.headers.get('stream-next-offset')!;
      const waiting = fetch(`${b.url}${path}?offset=${tail}&live=long-poll`);
      const sse = fetch(`${b.url}${path}?offset=${tail}&live=sse`).then((response) => response.text());
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await fetch(`${a.url}${path}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'woken' })).status).toBe(204);
      const answer = await waiting;
      expect(answer.status).toBe(200);
      expect(await answer.text()).toBe('woken');
      expect((await fetch(`${a.url}${path}`, { method: 'POST', headers: { 'content-type': 'text/plain', 'stream-closed': 'true' }, body: ' bye' })).status).toBe(204);
      const events = await sse;
      expect(events).toContain('event: data\ndata:woken\n\n');
      expect(events).toContain('event: data\ndata: bye\n\n');
      expect(events).toMatch(/"streamClosed":true/);
    } finally {
      await close();
    }
  });
});

describe('request bodies over maxBodyBytes', () => {
  it('are refused with 413 and write nothing, through writeDurableLog (Node) and durableLogResponse (Web)', async () => {
    const store = memoryDurableLogStore();
    const server = await serveOnLoopback((request, response) => void writeDurableLog(request, response, { store, maxBodyBytes: 1024 }));
    const url = `${server.url}/v1/stream/limited`;
    try {
      expect((await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' } })).status).toBe(201);
      const tooLarge = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(64 * 1024).fill(7) });
      expect(tooLarge.status).toBe(413);
      expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(1024).fill(1) })).status).toBe(204);
      expect(Buffer.from(await (await fetch(`${url}?offset=-1`)).arrayBuffer())).toEqual(Buffer.alloc(1024, 1));
      // The Web handler, with a body whose length it is not told (a stream), stops reading past the limit.
      const streamed = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(512).fill(9));
          controller.close();
        },
      });
      const web = await durableLogResponse(
        new Request('http://127.0.0.1/v1/stream/limited', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: streamed, duplex: 'half' } as RequestInit),
        { store, maxBodyBytes: 1024 },
      );
      expect(web.status).toBe(413);
      expect((await store.read('/v1/stream/limited', undefined))!.messages.map((message) => message.data.length)).toEqual([1024]);
    } finally {
      await server.close();
    }
  });
});

describe('SSE reads', () => {
  it('send each data event with its control event in one chunk (one write to the socket), live and in catch-up', async () => {
    const store = memoryDurableLogStore();
    const base = 'http://127.0.0.1/v1/stream/chunks';
    const call = (init: RequestInit, query = '') => durableLogResponse(new Request(`${base}${query}`, init), { store });
    expect((await call({ method: 'PUT', headers: { 'content-type': 'text/plain' } })).status).toBe(201);
    for (const text of ['a', 'b']) expect((await call({ method: 'POST', headers: { 'content-type': 'text/plain' }, body: text })).status).toBe(204);
    const abort = new AbortController();
    const answer = await call({ signal: abort.signal }, '?offset=-1&live=sse');
    const reader = answer.body!.getReader();
    const decoder = new TextDecoder();
    const chunks: string[] = [];
    const nextChunk = async () => {
      const { value } = await reader.read();
      chunks.push(decoder.decode(value));
      return chunks[chunks.length - 1]!;
    };
    // Catch-up: both messages and their controls come in the first read's chunk.
    const first = await nextChunk();
    expect(first.match(/event: data\n/g)).toHaveLength(2);
    expect(first.match(/event: control\n/g)).toHaveLength(2);
    expect(first.indexOf('data:a')).toBeLessThan(first.indexOf('data:b'));
    // Live: a new message and its control, together.
    const live = nextChunk();
    await call({ method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'c' });
    const chunk = await live;
    expect(chunk).toMatch(/^event: data\ndata:c\n\nevent: control\ndata:\{"streamNextOffset":"[^"]+","streamCursor":"\d+","upToDate":true\}\n\n$/);
    abort.abort();
    await reader.cancel();
  });
});

describe('an SSE reader that goes away', () => {
  it('is no longer waited for on the store (writeDurableLog): the wait ends with the connection, not at the long-poll timeout', async () => {
    const inner = memoryDurableLogStore();
    let waiting = 0;
    const store: DurableLogStore = Object.assign(Object.create(inner) as DurableLogStore, {
      waitForChange: async (...args: Parameters<DurableLogStore['waitForChange']>) => {
        waiting++;
        try {
          return await inner.waitForChange(...args);
        } finally {
          waiting--;
        }
      },
    });
    const server = await serveOnLoopback((request, response) => void writeDurableLog(request, response, { store, longPollTimeout: 30_000 }));
    const url = `${server.url}/v1/stream/leaving`;
    try {
      expect((await fetch(url, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'a' })).status).toBe(201);
      const abort = new AbortController();
      const answer = await fetch(`${url}?offset=-1&live=sse`, { signal: abort.signal });
      const reader = answer.body!.getReader();
      const { value } = await reader.read();
      expect(new TextDecoder().decode(value)).toContain('data:a');
      for (let waited = 0; waiting === 0 && waited < 10_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(waiting).toBe(1);
      abort.abort();
      for (let waited = 0; waiting > 0 && waited < 10_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(waiting).toBe(0);
    } finally {
      await server.close();
    }
  });
});
