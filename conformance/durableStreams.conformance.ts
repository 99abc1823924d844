/**
 * The official Durable Streams server conformance suite
 * (`@durable-streams/server-conformance-tests`), run with vitest against one
 * target, chosen by `DS_TARGET`:
 * - `reference`: the reference server `@durable-streams/server` (the control);
 * - `memory`: `writeDurableLog` over `memoryDurableLogStore()`;
 * - `redis`: `writeDurableLog` over `redisDurableLogStore()` on a real redis-server;
 * - `web`: `durableLogResponse` (the Web `Request` → `Response` form) over
 *   `memoryDurableLogStore()`, served on Node's http as Web frameworks do.
 * `scripts/conformance.mjs` runs all four and reports the counts.
 */
import { DurableStreamTestServer } from '@durable-streams/server';
import { runConformanceTests } from '@durable-streams/server-conformance-tests';
import { createClient } from 'redis';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { durableLogResponse, memoryDurableLogStore, redisDurableLogStore, writeDurableLog, type DurableLogStore } from '../src/server/index';
import { nodeListenerOf } from '../spec/support/webHandlerServer';
import { startRedisServer, type RedisServer } from '../spec/support/redisServer';

const LONG_POLL_MS = 5_000;
const target = process.env.DS_TARGET ?? 'reference';
const config = { baseUrl: '', longPollTimeoutMs: LONG_POLL_MS };
const stops: (() => Promise<unknown>)[] = [];

/** Every path is a Durable Streams stream of `store`, read and written over HTTP. */
async function serveDurableLogs(store: DurableLogStore, form: 'node' | 'web' = 'node'): Promise<string> {
  const sockets = new Set<Socket>();
  const options = { store, longPollTimeout: LONG_POLL_MS };
  const server: Server = createServer(
    form === 'node' ? (request, response) => void writeDurableLog(request, response, options) : nodeListenerOf((request) => durableLogResponse(request, options)),
  );
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
    stops.push(() => redis.stop(), () => Promise.resolve(client.destroy()));
    config.baseUrl = await serveDurableLogs(redisDurableLogStore(client));
  } else if (target === 'web') {
    config.baseUrl = await serveDurableLogs(memoryDurableLogStore(), 'web');
  } else {
    throw new Error(`DS_TARGET must be reference, memory, redis or web, not ${target}`);
  }
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
});

runConformanceTests(config);
