import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { redisDurableLogStore, writeDurableLog } from '../../src/server/index';
import { serveOnLoopback } from './loopbackServer';
import { freePort, REDIS_SERVER } from './redisServer';

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A loopback Durable Streams server (`writeDurableLog` over `redisDurableLogStore`) on a redis-server the test may SIGKILL and restart. */
export interface DurableLogOnPersistentRedis {
  /** `http://127.0.0.1:<port>` of the Durable Streams server. */
  readonly origin: string;
  /** SIGKILLs redis-server and waits for its exit. */
  killRedis(): Promise<void>;
  /** Starts redis-server again on the same port and data folder (what its append-only file kept comes back). */
  restartRedis(): void;
  /** Stops everything and removes the data folder. */
  close(): Promise<void>;
}

/**
 * Starts redis-server writing every command to its append-only file (so a
 * SIGKILL loses nothing), a node-redis client that reconnects quickly, and
 * the server over them; the store answers 503 after `storeTimeout` 1 s while
 * Redis is down.
 */
export async function durableLogOnPersistentRedis(longPollTimeout: number): Promise<DurableLogOnPersistentRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'ds-log-redis-'));
  const port = await freePort();
  let redis = startPersistentRedis(port, dir);
  const client = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: (retries: number) => Math.min(50 * retries, 500) } });
  client.on('error', () => undefined);
  for (let i = 0; i < 200 && !client.isReady; i++) await client.connect().catch(() => pause(50));
  const store = redisDurableLogStore(client, { storeTimeout: 1_000 });
  const server = await serveOnLoopback((request, response) => void writeDurableLog(request, response, { store, longPollTimeout }));
  const killRedis = async () => {
    redis.child.kill('SIGKILL');
    await redis.exited;
  };
  return {
    origin: server.url,
    killRedis,
    restartRedis: () => (redis = startPersistentRedis(port, dir)),
    close: async () => {
      await server.close();
      await store.close?.();
      client.destroy();
      await killRedis();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function startPersistentRedis(port: number, dir: string): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], { stdio: 'ignore' });
  return { child, exited: new Promise<void>((done) => child.once('exit', () => done())) };
}
