import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { lastValueFrom, toArray } from 'rxjs';
import { HttpError } from '../src/errors';
import { accumulateContent } from '../src/operators/accumulateContent';
import { parseRelayedChunks, type RelayedEvent } from '../src/operators/parseRelayedChunks';
import { retryWithBackoff } from '../src/operators/retryWithBackoff';
import { untilDone } from '../src/operators/untilDone';
import { redisRelayStore, writeDurableStreams, type RelayLease, type RelayStore } from '../src/server/index';
import { fromDurableStream } from '../src/sources/fromDurableStream';
import { serveOnLoopback } from './support/loopbackServer';
import { freePort, REDIS_SERVER, redisServerAvailable } from './support/redisServer';

jest.setTimeout(120_000);

const WORDS = Array.from({ length: 12 }, (_, i) => `r${i}ü `);
const chunkData = (text: string) => JSON.stringify({ id: 'c', choices: [{ index: 0, delta: { content: text } }] });
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const run = redisServerAvailable('durableStreamsRedisRestart.spec') ? describe : describe.skip;

/** redis-server on a fixed port, writing every command to its append-only file, so a SIGKILL loses nothing. */
function startPersistentRedis(port: number, dir: string): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], {
    stdio: 'ignore',
  });
  return { child, exited: new Promise<void>((done) => child.once('exit', () => done())) };
}

/** Retries a store write until Redis answers again (a producer retries its appends in order). */
async function untilWritten<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (attempt > 300 || (error as { name?: string }).name === 'RelayLeaseLostError') throw error;
      await pause(100);
    }
  }
}

run('the Durable Streams route through a Redis restart', () => {
  it('a reader of a stream being written sees Redis SIGKILLed and restarted: no crash, no hang, the text exact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ds-redis-'));
    const port = await freePort();
    let redis = startPersistentRedis(port, dir);
    const connect = async () => {
      const client = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: (retries: number) => Math.min(50 * retries, 500) } });
      client.on('error', () => undefined);
      for (let i = 0; i < 200 && !client.isReady; i++) await client.connect().catch(() => pause(50));
      return client;
    };
    // Two relay instances: one produces, the other serves the route (so its reads go to Redis).
    const producerClient = await connect();
    const readerClient = await connect();
    const store: RelayStore = redisRelayStore(producerClient, { blockMs: 300 });
    const served: RelayStore = redisRelayStore(readerClient, { blockMs: 300 });
    const server = await serveOnLoopback((request, response) => {
      void writeDurableStreams(request, response, { store: served, streamId: 'restart-1', heartbeat: 300, longPollTimeout: 1_000, storeTimeout: 1_000 });
    });
    const url = `${server.url}/streams/restart-1`;
    try {
      const claimed = await store.claim('restart-1', { leaseMs: 60_000, ttlMs: 120_000 });
      const lease = (claimed as { lease: RelayLease }).lease;
      for (let i = 0; i < 4; i++) await store.append(lease, [{ data: chunkData(WORDS[i]!) }]);
      const errors: unknown[] = [];
      const reading = lastValueFrom(
        fromDurableStream<RelayedEvent>({ url, live: 'sse' }).pipe(
          parseRelayedChunks(),
          untilDone(),
          retryWithBackoff({ initialDelay: 50, maxDelay: 500, jitter: 'none', maxRetries: 200, onRetry: ({ error }) => errors.push(error) }),
          accumulateContent(),
          toArray(),
        ),
      );
      await pause(500);
      redis.child.kill('SIGKILL');
      await redis.exited;
      // While Redis is down (its client queues commands), a read is answered within storeTimeout with a retryable 503, not a hang or a crash.
      const during = await fetch(`${url}?offset=-1`, { signal: AbortSignal.timeout(20_000) });
      expect(during.status).toBe(503);
      expect(during.headers.get('retry-after')).toBe('1');
      await pause(500);
      redis = startPersistentRedis(port, dir);
      for (let i = 4; i < WORDS.length; i++) await untilWritten(() => store.append(lease, [{ data: chunkData(WORDS[i]!) }]));
      await untilWritten(() => store.end(lease, { event: 'done', data: '[DONE]' }, 60_000));
      const snapshots = await reading;
      expect(snapshots.at(-1)!.content).toBe(WORDS.join(''));
      for (let i = 1; i < snapshots.length; i++) expect(snapshots[i]!.content.startsWith(snapshots[i - 1]!.content)).toBe(true);
      // The reader saw the outage as retryable errors, if at all (its SSE response may also just wait it out).
      expect(errors.every((error) => error instanceof HttpError ? error.status === 503 : (error as Error).name === 'NetworkError' || (error as Error).name === 'StreamInterruptedError')).toBe(true);
    } finally {
      await server.close();
      await store.close?.();
      await served.close?.();
      producerClient.destroy();
      readerClient.destroy();
      redis.child.kill('SIGKILL');
      await redis.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
