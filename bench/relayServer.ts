/**
 * The relay under test, in its own process (so its memory is its own): a
 * synthetic provider (EVENTS chunks, GAP_MS apart, each stamped with the time
 * it was made) behind createRelay, served with writeServerSentEvents; or, with
 * MODE=direct, the same provider written straight to the response (the
 * baseline without a relay). GET /stats answers the heap after a GC.
 * Prints "listening PORT".
 */
import { createServer } from 'node:http';
import { createClient } from 'redis';
import { interval, map, take } from 'rxjs';
import { createRelay, memoryRelayStore, redisRelayStore, toServerSentEvents, writeServerSentEvents, type RedisClientLike } from '../src/server/index.js';

const mode = process.env.MODE ?? 'memory';
const events = Number(process.env.EVENTS ?? 50);
const gapMs = Number(process.env.GAP_MS ?? 20);
const gc = (globalThis as { gc?: () => void }).gc;

const provider = () =>
  interval(gapMs).pipe(
    take(events),
    map((n) => ({ n, t: performance.timeOrigin + performance.now(), content: `token ${n} ` })),
  );

async function main(): Promise<void> {
  let store = memoryRelayStore();
  if (mode === 'redis') {
    const client = createClient({ url: process.env.REDIS_URL });
    await client.connect();
    store = redisRelayStore(client as unknown as RedisClientLike, { keyPrefix: `bench:${Date.now()}:` });
  }
  const relay = createRelay({ store, heartbeat: 0, abandonAfter: Infinity });
  const server = createServer(async (request, response) => {
    if (request.url === '/stats') {
      gc?.();
      response.end(JSON.stringify({ heapUsed: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss }));
      return;
    }
    if (mode === 'direct') {
      writeServerSentEvents(response, provider().pipe(toServerSentEvents({ heartbeat: 0 })));
      return;
    }
    const id = (request.url ?? '').slice(1);
    await relay.start(id, provider());
    writeServerSentEvents(response, relay.frames(id));
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`));
}

void main();
