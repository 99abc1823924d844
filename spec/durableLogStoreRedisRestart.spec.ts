import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { lastValueFrom, toArray } from 'rxjs';
import { retryWithBackoff } from '../src/operators/retryWithBackoff';
import { redisDurableLogStore, writeDurableLog } from '../src/server/index';
import { fromDurableStream } from '../src/sources/fromDurableStream';
import { freePort, REDIS_SERVER, redisServerAvailable } from './support/redisServer';

jest.setTimeout(120_000);

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const run = redisServerAvailable('durableLogStoreRedisRestart.spec') ? describe : describe.skip;

/** redis-server on a fixed port, writing every command to its append-only file, so a SIGKILL loses nothing. */
function startPersistentRedis(port: number, dir: string): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], { stdio: 'ignore' });
  return { child, exited: new Promise<void>((done) => child.once('exit', () => done())) };
}

run('redisDurableLogStore through a Redis SIGKILL and restart', () => {
  it('writes answer 503 while Redis is down (no hang); after the restart a producer retries, each value is written once, and a live reader gets them all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ds-log-redis-'));
    const port = await freePort();
    let redis = startPersistentRedis(port, dir);
    const client = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: (retries: number) => Math.min(50 * retries, 500) } });
    client.on('error', () => undefined);
    for (let i = 0; i < 200 && !client.isReady; i++) await client.connect().catch(() => pause(50));
    const store = redisDurableLogStore(client, { storeTimeout: 1_000 });
    const sockets = new Set<Socket>();
    const server: Server = createServer((request, response) => void writeDurableLog(request, response, { store, longPollTimeout: 1_000 }));
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/stream/restart-1`;
    const post = (seq: number, close = false) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'producer-id': 'p', 'producer-epoch': '0', 'producer-seq': String(seq), ...(close ? { 'stream-closed': 'true' } : {}) },
        body: JSON.stringify({ n: seq }),
        signal: AbortSignal.timeout(20_000),
      });
    /** A producer's retry loop: the same (id, epoch, seq) until Redis answers. */
    const untilWritten = async (seq: number, close = false) => {
      for (let attempt = 0; attempt < 300; attempt++) {
        const response = await post(seq, close).catch(() => undefined);
        if (response !== undefined && response.status !== 503) return response.status;
        await pause(100);
      }
      throw new Error(`seq ${seq} never written`);
    };
    try {
      expect((await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json' } })).status).toBe(201);
      for (let seq = 0; seq < 3; seq++) expect(await untilWritten(seq)).toBe(200);
      const reading = lastValueFrom(
        fromDurableStream<{ n: number }>({ url, live: 'long-poll' }).pipe(retryWithBackoff({ initialDelay: 50, maxDelay: 500, jitter: 'none', maxRetries: 300 }), toArray()),
      );
      await pause(300);
      redis.child.kill('SIGKILL');
      await redis.exited;
      const during = await post(3);
      expect(during.status).toBe(503);
      expect(during.headers.get('retry-after')).toBe('1');
      redis = startPersistentRedis(port, dir);
      // The timed-out seq 3 may have run once the client reconnected: the retry is then a duplicate (204).
      expect([200, 204]).toContain(await untilWritten(3));
      expect(await untilWritten(3)).toBe(204);
      expect(await untilWritten(4, true)).toBe(200);
      const values = (await reading).map((value) => value.n);
      expect(values).toEqual([0, 1, 2, 3, 4]);
      expect(await (await fetch(`${url}?offset=-1`)).json()).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })));
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
      await store.close?.();
      client.destroy();
      redis.child.kill('SIGKILL');
      await redis.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
