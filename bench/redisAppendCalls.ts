/**
 * The Redis relay store's append calls, side by side on one redis-server
 * (interleaved rounds, medians): (A) each append its own script call, as
 * before, and as on a Cluster; (B) the store's `GatheredCalls`, which sends
 * appends at once while fewer than 16 calls are unanswered and otherwise
 * gathers them into one call, sent when a call is answered or on the next
 * turn of the event loop. Both run the
 * store's `append` script through one node-redis client, 1,000 streams
 * appending 10,000 entries a second for 3 s. With `busy` > 0, every tick of
 * the appending timer also keeps the event loop busy that many ms (other
 * work: HTTP, readers), which is where the two differ: node-redis writes
 * about 16 KiB of commands per turn of the loop. Reports, per append:
 * latency from the call to its answer (median and p99), this process's CPU,
 * redis-server's CPU.
 *
 *   node --import tsx bench/redisAppendCalls.ts [busyMs=0,5,15] [rounds=3]
 */
import { createClient } from 'redis';
import { startRedisServer } from '../spec/support/redisServer.js';
import { entryArgument, GatheredCalls } from '../src/server/redis/gatheredCalls.js';
import { APPEND } from '../src/server/redis/relayScripts.js';
import { redisRelayStore } from '../src/server/index.js';
import { monitorRedis, type RedisMonitor } from './relayRedis.js';
import { median } from './stats.js';
import { pacedCalls } from './pacedCalls.js';

const BUSY = (process.argv[2] ?? '0,5,15').split(',').map(Number);
const ROUNDS = Number(process.argv[3] ?? 3);
const STREAMS = 1_000;
const PER_MS = 10;
const TOTAL = 30_000;

type Client = ReturnType<typeof createClient>;
type Mode = 'one call each' | 'GatheredCalls';

const percentile = (values: number[], p: number) => [...values].sort((x, y) => x - y)[Math.min(values.length - 1, Math.floor(values.length * p))]!;

async function runOnce(mode: Mode, busyMs: number, client: Client, monitor: RedisMonitor, run: string) {
  const store = redisRelayStore(client, { keyPrefix: `bench:appends:${run}:` });
  const headers: string[] = [];
  const metas: string[] = [];
  for (let i = 0; i < STREAMS; i++) {
    const claim = await store.claim(`s${i}`, { leaseMs: 60_000, ttlMs: 60_000 });
    if (claim.status !== 'created') throw new Error(claim.status);
    // The append header as the store builds it (see relayScripts.ts), its position not checked.
    headers.push(`${claim.lease.token} ${claim.lease.epoch} 60000 60000 100000 10000000 1 `);
    metas.push(`bench:appends:${run}:{s${i}}:meta`);
  }
  const call = (keys: string[], args: string[]) => client.sendCommand(['EVALSHA', APPEND.sha, String(keys.length), ...keys, ...args]);
  await client.sendCommand(['SCRIPT', 'LOAD', APPEND.body]);
  const appends = new GatheredCalls(call, ['PUBLISH'], mode === 'GatheredCalls');
  const latencies: number[] = [];
  const answers: Array<Promise<unknown>> = [];
  const cpuBefore = process.cpuUsage();
  const redisBefore = await monitor.cpuMicros();
  await pacedCalls(
    TOTAL,
    PER_MS,
    (n) => {
      const at = performance.now();
      const data = JSON.stringify({ n, t: Date.now(), content: `token ${n} ` });
      answers.push(appends.add(metas[n % STREAMS]!, [headers[n % STREAMS]!, entryArgument(data, undefined, false)]).then(() => latencies.push(performance.now() - at)));
    },
    busyMs,
  );
  await Promise.all(answers);
  const cpu = process.cpuUsage(cpuBefore);
  const redis = (await monitor.cpuMicros()) - redisBefore;
  await store.close?.();
  return { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), cpuUs: (cpu.user + cpu.system) / TOTAL, redisUs: redis / TOTAL };
}

async function main(): Promise<void> {
  const server = await startRedisServer();
  const client = createClient({ url: server.url });
  await client.connect();
  const monitor = await monitorRedis(server.url);
  console.log(`Redis relay store append calls: ${STREAMS} streams, ${PER_MS * 1000} appends/s for ${TOTAL / PER_MS / 1000} s, medians of ${ROUNDS} interleaved rounds`);
  console.log('| other work per tick (ms) | mode | latency median / p99 (ms) | this process CPU per append (µs) | redis-server CPU per append (µs) |');
  console.log('|---|---|---|---|---|');
  for (const busyMs of BUSY) {
    const results: Record<Mode, Array<Awaited<ReturnType<typeof runOnce>>>> = { 'one call each': [], GatheredCalls: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order: Mode[] = round % 2 === 0 ? ['one call each', 'GatheredCalls'] : ['GatheredCalls', 'one call each'];
      for (const mode of order) results[mode].push(await runOnce(mode, busyMs, client, monitor, `${busyMs}-${round}-${mode === 'GatheredCalls' ? 'b' : 'o'}`));
    }
    for (const mode of ['one call each', 'GatheredCalls'] as const) {
      const of = (pick: (r: Awaited<ReturnType<typeof runOnce>>) => number) => median(results[mode].map(pick));
      console.log(`| ${busyMs} | ${mode} | ${of((r) => r.p50).toFixed(1)} / ${of((r) => r.p99).toFixed(1)} | ${of((r) => r.cpuUs).toFixed(1)} | ${of((r) => r.redisUs).toFixed(1)} |`);
    }
  }
  await client.quit();
  await monitor.close();
  await server.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
