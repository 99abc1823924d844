/**
 * The official Durable Streams server conformance suite
 * (`@durable-streams/server-conformance-tests`), run with vitest against one
 * target, chosen by `DS_TARGET`:
 * - `reference`: the reference server `@durable-streams/server` (the control);
 * - `memory`: `writeDurableStreams` over `memoryRelayStore()`;
 * - `redis`: `writeDurableStreams` over `redisRelayStore()` on a real redis-server.
 * `scripts/conformance.mjs` runs all three and reports the counts.
 */
import { DurableStreamTestServer } from '@durable-streams/server';
import { runConformanceTests } from '@durable-streams/server-conformance-tests';
import { createClient } from 'redis';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { memoryDurableLogStore, redisRelayStore, writeDurableLog, writeDurableStreams, type DurableLogStore, type RelayStore } from '../src/server/index';
import { startRedisServer, type RedisServer } from '../spec/support/redisServer';

const LONG_POLL_MS = 5_000;
const target = process.env.DS_TARGET ?? 'reference';
const config = { baseUrl: '', longPollTimeoutMs: LONG_POLL_MS };
const stops: (() => Promise<unknown>)[] = [];

/** `/v1/stream/<id>` → the relay stream `<id>`, served read-only from `store`. */
async function serveRelayLogs(store: RelayStore): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const streamId = decodeURIComponent(path.replace(/^\/v1\/stream\//, ''));
    void writeDurableStreams(request, response, { store, streamId, longPollTimeout: LONG_POLL_MS });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stops.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** Every path is a Durable Streams stream of `store`, read and written over HTTP. */
async function serveDurableLogs(store: DurableLogStore): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((request, response) => void writeDurableLog(request, response, { store, longPollTimeout: LONG_POLL_MS }));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stops.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
    await store.close?.();
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

beforeAll(async () => {
  if (target === 'reference') {
    const server = new DurableStreamTestServer({ port: 0, host: '127.0.0.1', longPollTimeout: LONG_POLL_MS });
    await server.start();
    stops.push(() => server.stop());
    config.baseUrl = server.url;
  } else if (target === 'memory') {
    config.baseUrl = await serveDurableLogs(memoryDurableLogStore());
  } else if (target === 'redis') {
    const redis: RedisServer = await startRedisServer();
    const client = createClient({ url: redis.url });
    client.on('error', () => undefined);
    await client.connect();
    const store = redisRelayStore(client);
    stops.push(() => redis.stop(), () => Promise.resolve(client.destroy()), async () => store.close?.());
    config.baseUrl = await serveRelayLogs(store);
  } else {
    throw new Error(`DS_TARGET must be reference, memory or redis, not ${target}`);
  }
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
});

runConformanceTests(config);
