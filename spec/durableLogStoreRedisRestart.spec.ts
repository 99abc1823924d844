import { lastValueFrom, toArray } from 'rxjs';
import { retryWithBackoff } from '../src/operators/retryWithBackoff';
import { fromDurableStream } from '../src/sources/fromDurableStream';
import { redisServerAvailable } from './support/redisServer';
import { durableLogOnPersistentRedis } from './support/durableLogOnPersistentRedis';

jest.setTimeout(120_000);

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const run = redisServerAvailable('durableLogStoreRedisRestart.spec') ? describe : describe.skip;

run('redisDurableLogStore through a Redis SIGKILL and restart', () => {
  it('writes answer 503 while Redis is down (no hang); after the restart a producer retries, each value is written once, and a live reader gets them all', async () => {
    const served = await durableLogOnPersistentRedis(1_000);
    const url = `${served.origin}/v1/stream/restart-1`;
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
      await served.killRedis();
      const during = await post(3);
      expect(during.status).toBe(503);
      expect(during.headers.get('retry-after')).toBe('1');
      served.restartRedis();
      // The timed-out seq 3 may have run once the client reconnected: the retry is then a duplicate (204).
      expect([200, 204]).toContain(await untilWritten(3));
      expect(await untilWritten(3)).toBe(204);
      expect(await untilWritten(4, true)).toBe(200);
      const values = (await reading).map((value) => value.n);
      expect(values).toEqual([0, 1, 2, 3, 4]);
      expect(await (await fetch(`${url}?offset=-1`)).json()).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })));
    } finally {
      await served.close();
    }
  });
});
