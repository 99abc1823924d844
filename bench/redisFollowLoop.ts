/**
 * The two follow-loop designs for remote readers of the Redis store, side by
 * side on one redis-server (interleaved rounds, medians): (A) one connection
 * running one blocking `XREAD` over every followed stream key, with the
 * entries in its reply; (B) a change notification (`PUBLISH` in the append
 * script) on one subscriber connection, then `XRANGE` on the command
 * connection. Measures, per appended entry: delivery delay (append sent →
 * entry in hand), this process's CPU, and redis-server's CPU.
 *
 *   node --import tsx bench/redisFollowLoop.ts [streams=200] [rounds=30]
 */
import { spawn } from 'node:child_process';
import { createClient } from 'redis';
import { freePort } from '../spec/support/redisServer.js';

const STREAMS = Number(process.argv[2] ?? 200);
const ROUNDS = Number(process.argv[3] ?? 30);
const APPEND = `redis.call('XADD', KEYS[1], '*', 'd', ARGV[1]) redis.call('PUBLISH', ARGV[2], '1') return 1`;
const APPEND_PLAIN = `redis.call('XADD', KEYS[1], '*', 'd', ARGV[1]) return 1`;

type Client = ReturnType<typeof createClient>;

async function redisCpu(admin: Client): Promise<number> {
  const info = String(await admin.sendCommand(['INFO', 'cpu']));
  return Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
}

const percentile = (values: number[], p: number) => [...values].sort((x, y) => x - y)[Math.min(values.length - 1, Math.floor(values.length * p))]!;
const median = (values: number[]) => percentile(values, 0.5);

/** One run of one design: ROUNDS rounds, each appending one entry to every stream, 20 ms apart. */
async function runDesign(design: 'xread' | 'notify', url: string, admin: Client, run: number) {
  const command = createClient({ url });
  const follower = createClient({ url });
  await Promise.all([command.connect(), follower.connect()]);
  const keys = Array.from({ length: STREAMS }, (_, i) => `bench:${design}:${run}:{s${i}}:log`);
  const sentAt = new Map<string, number>();
  const delays: number[] = [];
  let received = 0;
  let stop = false;
  const lastIds = new Map(keys.map((key) => [key, '0-0']));
  const take = (key: string, entries: Array<[string, string[]]>) => {
    for (const [id, fields] of entries) {
      lastIds.set(key, id);
      const sent = sentAt.get(fields[1]!);
      if (sent !== undefined) delays.push(performance.now() - sent);
      received++;
    }
  };
  let loop: Promise<void> = Promise.resolve();
  if (design === 'xread') {
    loop = (async () => {
      while (!stop) {
        const reply = (await follower.sendCommand(['XREAD', 'COUNT', '100', 'BLOCK', '200', 'STREAMS', ...keys, ...keys.map((key) => lastIds.get(key)!)])) as Array<
          [string, Array<[string, string[]]>]
        > | null;
        for (const [key, entries] of reply ?? []) take(key, entries);
      }
    })();
  } else {
    const reading = new Set<string>();
    const again = new Set<string>();
    const read = async (key: string): Promise<void> => {
      if (reading.has(key)) return void again.add(key);
      reading.add(key);
      const entries = (await command.sendCommand(['XRANGE', key, `(${lastIds.get(key)}`, '+', 'COUNT', '100'])) as Array<[string, string[]]>;
      take(key, entries);
      reading.delete(key);
      if (again.delete(key)) await read(key);
    };
    await Promise.all(keys.map((key) => follower.subscribe(`${key}:changes`, () => void read(key))));
  }
  const cpuBefore = process.cpuUsage();
  const redisBefore = await redisCpu(admin);
  const script = design === 'xread' ? APPEND_PLAIN : APPEND;
  for (let round = 0; round < ROUNDS; round++) {
    await Promise.all(
      keys.map((key, i) => {
        const value = `${round}:${i}`;
        sentAt.set(value, performance.now());
        return command.sendCommand(['EVAL', script, '1', key, value, `${key}:changes`]);
      }),
    );
    await new Promise((wait) => setTimeout(wait, 20));
  }
  const deadline = Date.now() + 30_000;
  while (received < STREAMS * ROUNDS && Date.now() < deadline) await new Promise((wait) => setTimeout(wait, 10));
  const cpu = process.cpuUsage(cpuBefore);
  const redisAfter = await redisCpu(admin);
  stop = true;
  await loop;
  command.destroy();
  follower.destroy();
  const events = STREAMS * ROUNDS;
  if (received !== events) throw new Error(`${design}: ${received} of ${events} entries arrived`);
  return {
    medianMs: median(delays),
    p99Ms: percentile(delays, 0.99),
    processUsPerEvent: (cpu.user + cpu.system) / events,
    redisUsPerEvent: ((redisAfter - redisBefore) * 1e6) / events,
  };
}

async function main(): Promise<void> {
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const admin = createClient({ url });
  for (let i = 0; ; i++) {
    try {
      await admin.connect();
      break;
    } catch {
      if (i > 200) throw new Error('redis-server did not start');
      await new Promise((wait) => setTimeout(wait, 50));
    }
  }
  const results: Record<string, Array<Awaited<ReturnType<typeof runDesign>>>> = { xread: [], notify: [] };
  for (let run = 0; run < 3; run++) {
    for (const design of run % 2 === 0 ? (['xread', 'notify'] as const) : (['notify', 'xread'] as const)) results[design]!.push(await runDesign(design, url, admin, run));
  }
  process.stdout.write(`${STREAMS} streams × ${ROUNDS} rounds, 3 interleaved runs, medians; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
  process.stdout.write('| design | delay median ms | delay p99 ms | this process µs/event | redis-server µs/event |\n|---|---|---|---|---|\n');
  for (const [design, runs] of Object.entries(results)) {
    const m = (pick: (r: (typeof runs)[number]) => number) => median(runs.map(pick)).toFixed(2);
    process.stdout.write(`| ${design} | ${m((r) => r.medianMs)} | ${m((r) => r.p99Ms)} | ${m((r) => r.processUsPerEvent)} | ${m((r) => r.redisUsPerEvent)} |\n`);
  }
  admin.destroy();
  server.kill('SIGTERM');
}

void main();
