/**
 * npm run bench:relay [-- --quick] [--sizes 100,500,1000] [--rounds 3] [--events 30] [--gap 100]
 *                     [--resume-after 10] [--out bench/RELAY-RESULTS.md] [--flows redis,rs]
 *
 * `--flows` runs only the named contenders (direct, directAgain, memory, redis, redisRemote, rs,
 * rsAgain, rsRemote, rsRemoteAgain, rsStoredRemote, rsFencedRemote, rsXaddRemote, dsReference,
 * dsOurs; the `Again` flows run their path a second time in the round, for each target's noise
 * floor, and `--quick` leaves them out; rsStoredRemote, rsFencedRemote and rsXaddRemote,
 * resumable-stream paying for storing each value, run only when named, see relayTypes.ts): for a profile,
 * with `BENCH_CPU_PROF=<dir>` (each relay instance then writes a `--cpu-prof` profile there when
 * the run ends). With `BENCH_TRACE_RESUMES=1`, each run
 * of a remote path prints where its resumes' time went (see resumeTrace.ts); the figures do not change.
 * With `BENCH_TRACE_HOPS=1`, each instance prints, per run, how late the provider's values went
 * by on their way to Redis, from Redis and to readers (see hopTrace.ts). With
 * `BENCH_REDIS_COMMANDS=1`, each run prints redis-server's time per command (`INFO commandstats`).
 *
 * The relay measured side by side, in one run: pass-through (the synthetic
 * provider written straight to the response), the relay on the memory store,
 * the relay on Redis with local readers, the relay on Redis with remote and
 * resuming readers (a second instance), and Vercel's `resumable-stream` on
 * the same redis-server (first, remote and resuming readers), and Durable
 * Streams: the reference server (`@durable-streams/server`) and this
 * library's `writeDurableLog` on its memory store, each in instance B, a
 * producer on A appending every value, the readers on the protocol's SSE. Two relay
 * instances (A runs the provider requests, B serves remote readers) and the
 * clients are separate processes on loopback; a real redis-server is started
 * and stopped here.
 *
 * Pass-through and resumable-stream also run a second time in each round, under other names
 * (`directAgain`, `rsAgain`, `rsRemoteAgain`): each target is printed with the same comparison
 * made between those two runs of one contender, which nothing but the machine tells apart.
 *
 * Per size: a probe round (heap per open stream with a GC half-way through,
 * Redis connections per instance from CLIENT LIST; its times are not
 * counted), then `--rounds` timed rounds, each running every contender once,
 * in an order rotated per round and reversed every other round (`roundOrder`).
 * Figures are medians over the timed rounds;
 * "added" latencies are the per-round difference to pass-through's.
 * Every stream's events are checked (exactly n = 0 … events−1, once each, in
 * order, then `done`); `--quick` (the CI smoke) only asserts that, in under a
 * minute, and exits 1 when any stream of any contender was wrong; a full run
 * exits 1 when a stream of this library's paths was wrong (resumable-stream's
 * failures, such as its 1 s resume acknowledgement timing out on a loaded
 * machine, are reported in the table and under it).
 */
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { startRedisServer } from '../spec/support/redisServer.js';
import { ask, startClients, startRelayInstance, stop, type RelayInstance } from './relayProcesses.js';
import { monitorRedis, type CommandStat, type RedisMonitor } from './relayRedis.js';
import { figures, storagePrices, table, targetLine, targets, wrongNotes, type RunRecord } from './relayReport.js';
import { durableStreamUrl, isOptIn, OPT_IN_PATHS, pathOf, type ClientResult, type ClientRun, type Flow, type Path } from './relayTypes.js';
import { rotate } from './stats.js';
import type { ChildProcess } from 'node:child_process';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const flag = (name: string, fallback: string) => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1]! : fallback;
};
const positive = (name: string, value: number) => {
  if (!Number.isInteger(value) || value <= 0) throw new TypeError(`bench:relay: --${name} must be a positive integer (got ${value})`);
  return value;
};
const SIZES = flag('sizes', quick ? '40' : '100,500,1000').split(',').map((size) => positive('sizes', Number(size)));
const ROUNDS = positive('rounds', Number(flag('rounds', quick ? '1' : '3')));
const EVENTS = positive('events', Number(flag('events', '30')));
const GAP_MS = positive('gap', Number(flag('gap', '100')));
// Quick resumes early, leaving resumable-stream (which cannot resume a finished stream) seconds of margin on a loaded CI machine.
const RESUME_AFTER = positive('resume-after', Number(flag('resume-after', String(quick ? 5 : Math.floor(EVENTS / 3)))));
const OUT = flag('out', quick ? '' : join(__dirname, 'RELAY-RESULTS.md'));
/** Streams start evenly over one gap, so the provider's ticks are spread as real traffic's are. */
const STAGGER_MS = GAP_MS;
const ALL_FLOWS: Flow[] = ['direct', 'directAgain', 'memory', 'redis', 'redisRemote', 'rs', 'rsAgain', 'rsRemote', 'rsRemoteAgain', 'rsStoredRemote', 'rsFencedRemote', 'rsXaddRemote', 'dsReference', 'dsOurs'];
// The quick smoke checks delivery only: a path's second run would check nothing new. The opt-in paths run when named.
const DEFAULT_FLOWS = ALL_FLOWS.filter((flow) => !isOptIn(pathOf(flow)) && (!quick || pathOf(flow) === flow));
const FLOWS = flag('flows', DEFAULT_FLOWS.join(',')).split(',').map((name) => {
  if (!ALL_FLOWS.includes(name as Flow)) throw new TypeError(`bench:relay: --flows takes ${ALL_FLOWS.join(', ')} (got ${name})`);
  return name as Flow;
});
/** The names of each path's Redis connections (CLIENT SETNAME, then `-A` or `-B`): the storing paths count the store's too. */
const CONNECTION_NAMES: Partial<Record<Path, readonly string[]>> = {
  redis: ['bench-relay'],
  redisRemote: ['bench-relay'],
  rs: ['bench-rs'],
  rsRemote: ['bench-rs'],
  ...Object.fromEntries(OPT_IN_PATHS.map((path) => [path, ['bench-rs', 'bench-storing']])),
};
const REDIS_COMMANDS = process.env.BENCH_REDIS_COMMANDS === '1';
const log = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const load = () => loadavg().map((value) => value.toFixed(2)).join(' ');

interface Setup {
  a: RelayInstance;
  b: RelayInstance;
  /** The origins of B's Durable Streams servers. */
  durableStreams: { dsReference: string; dsOurs: string };
  clients: ChildProcess;
  redis: RedisMonitor;
}

/** redis-server's time per command in one run, the costliest first (a script's time includes that of the commands it calls, also listed). */
function redisCommandsLine(flow: Flow, delivered: number, stats: CommandStat[]): string {
  const each = stats.slice(0, 8).map((stat) => `${stat.command} ${stat.calls} × ${(stat.micros / stat.calls).toFixed(1)} µs (${(stat.micros / Math.max(1, delivered)).toFixed(1)} per value)`);
  return `redis commands, ${flow} (a script's time includes its commands'): ${each.length === 0 ? 'none' : each.join(', ')}`;
}

/** One run of one flow: CPU of A and B and of redis-server around it; in the probe round, heap and connections half-way. */
async function measure(setup: Setup, flow: Flow, size: number, round: number, runId: string): Promise<RunRecord> {
  const { a, b, clients, redis } = setup;
  const probe = round === 0;
  const [beforeA, beforeB] = await Promise.all([a.stats(true), b.stats(true)]);
  if (REDIS_COMMANDS) await redis.resetCommandStats();
  const redisBefore = await redis.cpuMicros();
  const message: ClientRun = {
    type: 'run',
    runId,
    flow,
    urls: { a: a.url, b: b.url, ...setup.durableStreams },
    streams: size,
    events: EVENTS,
    gapMs: GAP_MS,
    staggerMs: STAGGER_MS,
    resumeAfter: RESUME_AFTER,
  };
  const done = ask<ClientResult>(clients, message, 'result');
  let heapPerStream: number | undefined;
  let connections: RunRecord['connections'];
  if (probe) {
    // Connections: the most seen at a quarter, half and three quarters of the answer; heap: half-way, after a GC.
    const names = CONNECTION_NAMES[pathOf(flow)] ?? [];
    connections = { a: 0, b: 0, unnamed: 0 };
    const quarter = (EVENTS * GAP_MS) / 4;
    await sleep(STAGGER_MS + quarter);
    for (let sample = 1; sample <= 3; sample++) {
      const byName = await redis.connectionsByName();
      const count = (instance: string) => names.reduce((sum, name) => sum + (byName.get(`${name}-${instance}`) ?? 0), 0);
      connections = {
        a: Math.max(connections.a, count('A')),
        b: Math.max(connections.b, count('B')),
        unnamed: Math.max(connections.unnamed, byName.get('') ?? 0),
      };
      if (sample === 2) {
        const [midA, midB] = await Promise.all([a.stats(true), b.stats(true)]);
        heapPerStream = (midA.heapUsed - beforeA.heapUsed + (midB.heapUsed - beforeB.heapUsed)) / size;
      }
      if (sample < 3) await sleep(quarter);
    }
  }
  const result = await done;
  // Let the producers finish their own bookkeeping (terminal writes, unsubscribes) inside the window.
  await sleep(300);
  const run = `${size} streams, ${probe ? 'probe' : `round ${round}`}, ${flow}`;
  const [afterA, afterB] = await Promise.all([a.stats(false, run), b.stats(false, run)]);
  const redisAfter = await redis.cpuMicros();
  if (REDIS_COMMANDS) log(redisCommandsLine(flow, result.eventsDelivered, await redis.commandStats()));
  if (flow === 'dsReference' || flow === 'dsOurs') await deleteDurableStreams(setup.durableStreams[flow], runId, size);
  return {
    size,
    round,
    flow,
    result,
    relayCpuMicros: afterA.cpuMicros - beforeA.cpuMicros + (afterB.cpuMicros - beforeB.cpuMicros),
    redisCpuMicros: redisAfter - redisBefore,
    heapPerStream,
    connections,
  };
}

/**
 * Deletes the streams a Durable Streams run created on B, after its figures
 * are taken. Both servers keep every stream in memory until it is deleted:
 * without this, B's heap grows by a run's streams at every Durable Streams
 * run, and whichever path runs after one is slower for it (in runs of every
 * path at 1,000 streams, the relay's remote readers' median was +47 ms with
 * the streams kept, +16 ms with them deleted, and +8 ms with no Durable
 * Streams path at all). Ten at a time; a 404 (a stream that was never
 * created, its run having failed) is not an error.
 */
async function deleteDurableStreams(origin: string, runId: string, size: number): Promise<void> {
  const deleteOne = async (index: number) => {
    const response = await fetch(durableStreamUrl(origin, runId, index), { method: 'DELETE' });
    await response.arrayBuffer();
    if (response.status >= 300 && response.status !== 404) throw new Error(`bench:relay: DELETE of a Durable Stream answered ${response.status}`);
  };
  for (let from = 0; from < size; from += 10) await Promise.all(Array.from({ length: Math.min(10, size - from) }, (_, k) => deleteOne(from + k)));
}

/**
 * The order of a round: rotated by one per round, and reversed every other
 * round, so that no path always runs right after the same other one (what a
 * path leaves behind in the instances, such as logs kept for resumes, then
 * weighs on different paths from round to round).
 */
function roundOrder<T>(items: T[], round: number): T[] {
  const rotated = rotate(items, round);
  return round % 2 === 1 ? rotated.reverse() : rotated;
}

function gitDescription(): string {
  const git = (args: string) => execSync(`git ${args}`, { cwd: join(__dirname, '..'), stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  try {
    const head = git('rev-parse --short HEAD');
    const dirty = git('status --porcelain --untracked-files=no') === '' ? '' : ' (with uncommitted changes)';
    const branches = ['relay', 'redis'].map((branch) => {
      try {
        const id = git(`rev-parse --short ${branch}`);
        const merged = (() => {
          try {
            git(`merge-base --is-ancestor ${branch} HEAD`);
            return 'contained';
          } catch {
            return 'not contained';
          }
        })();
        return `${branch} ${id} ${merged}`;
      } catch {
        return `${branch}: no such branch here`;
      }
    });
    return `commit ${head}${dirty}; branches: ${branches.join(', ')}`;
  } catch {
    return 'commit unknown (not a git checkout)';
  }
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const loadBefore = load();
  // The code measured: taken before the run, so a commit made while it runs is not named.
  const measured = gitDescription();
  log(
    `relay bench${quick ? ' (quick: exact delivery only)' : ''}: ${SIZES.join(', ')} concurrent streams of ${EVENTS} events ${GAP_MS} ms apart, ` +
      `resuming after ${RESUME_AFTER}; ${quick ? 'one round' : `${ROUNDS} timed round(s) after a probe round`}; load average ${loadBefore}`,
  );
  const server = await startRedisServer();
  const runTag = `${Date.now().toString(36)}`;
  const env = { REDIS_URL: server.url, EVENTS: String(EVENTS), GAP_MS: String(GAP_MS), RUN_ID: runTag };
  const children: ChildProcess[] = [];
  let redis: RedisMonitor | undefined;
  const records: RunRecord[] = [];
  try {
    const [a, b, clients] = await Promise.all([startRelayInstance('A', env), startRelayInstance('B', env), startClients()]);
    children.push(a.child, b.child, clients);
    redis = await monitorRedis(server.url);
    const durableStreams = (await (await fetch(`${b.url}/ds-urls`)).json()) as Setup['durableStreams'];
    const setup: Setup = { a, b, clients, redis, durableStreams };
    const firstRound = quick ? 1 : 0;
    for (const size of SIZES) {
      for (let round = firstRound; round <= ROUNDS; round++) {
        for (const flow of roundOrder(FLOWS, round)) {
          const record = await measure(setup, flow, size, round, `${runTag}-${size}-${round}-${flow}`);
          records.push(record);
          const r = record.result;
          const wrong = r.wrong > 0 ? `, ${r.wrong} WRONG: ${r.wrongSamples.join(' | ')}` : '';
          log(`  ${size} streams, ${round === 0 ? 'probe' : `round ${round}`}, ${flow}: ${r.eventsDelivered} events in ${(r.wallMs / 1000).toFixed(1)} s${wrong}`);
        }
      }
    }
  } finally {
    await Promise.all(children.map(stop));
    await redis?.close();
    await server.stop();
  }
  const wrong = records.reduce((sum, record) => sum + record.result.wrong, 0);
  const loadAfter = load();
  if (quick) {
    log(wrong === 0 ? `every contender delivered exactly the provider's events (${records.length} runs)` : `${wrong} stream(s) wrong`);
    return wrong === 0 ? 0 : 1;
  }
  const all = SIZES.flatMap((size) => figures(records, size));
  const lines = table(all);
  const goals = targets(all, SIZES);
  const targetLines = goals.map(targetLine);
  const prices = storagePrices(all, SIZES);
  const priceLines = prices.length === 0 ? [] : ['', 'What storing each value costs resumable-stream (the opt-in paths):', '', ...prices];
  const notes = wrongNotes(records);
  const wrongLines = notes.length === 0 ? ['Every stream of every run delivered exactly the provider\'s events.'] : ['Streams not delivered exactly (their readers\' events after the failure are missing from the latencies):', '', ...notes];
  const about =
    `${startedAt.toISOString()}, Node ${process.version}, ${cpus().length} cores, load average (1, 5, 15 min) ${loadBefore} before and ${loadAfter} after; ` +
    `${SIZES.join(', ')} streams of ${EVENTS} events ${GAP_MS} ms apart, resuming after ${RESUME_AFTER}; medians of ${ROUNDS} timed rounds; ${measured}.`;
  log('');
  for (const line of lines) log(line);
  log('');
  for (const line of [...targetLines, ...priceLines]) log(line);
  log('');
  for (const line of wrongLines) log(line);
  log(`\n${about}`);
  if (OUT) {
    const text = [
      '# Relay benchmark: last full run',
      '',
      '`npm run bench:relay` (see docs/performance.md, "The relay, side by side", for how to read it).',
      '',
      about,
      '',
      ...lines,
      '',
      'Targets (issue 22), each against the same run:',
      '',
      ...targetLines,
      ...priceLines,
      '',
      ...wrongLines,
      '',
    ].join('\n');
    writeFileSync(OUT, text);
    log(`written to ${OUT}`);
  }
  // A full run fails for this library's paths only: resumable-stream's own failures under load are reported above.
  const oursWrong = records.filter((record) => !pathOf(record.flow).startsWith('rs')).reduce((sum, record) => sum + record.result.wrong, 0);
  return oursWrong === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
