/**
 * An opt-in trace of where an event's time goes between the provider and a
 * reader in `npm run bench:relay` (`BENCH_TRACE_HOPS=1`), for the relay and
 * resumable-stream alike. It changes no figure of the report, but its
 * scanning costs each instance some CPU. Each instance prints a few lines
 * per run of a path, on stderr, naming the run.
 *
 * It watches sockets, not either peer's code: every value the provider
 * emits carries the wall time it was due (`"t":…`), and that stamp travels
 * in every byte that carries the value (an append or a `PUBLISH` on its way
 * to Redis, a change message or a read coming back, a frame written to a
 * reader; inside JSON strings as `\"t\":…`). For each stamp seen, the
 * trace notes how late after it was due the bytes went by:
 *
 * - **emitted**: the provider emitted it here (its timer's lateness: this
 *   instance's loop, before either peer's code runs);
 * - **to Redis**: this instance wrote it on a connection to redis-server
 *   (A: the relay's append; resumable-stream's `PUBLISH` once a reader on
 *   B listens);
 * - **from Redis**: this instance read it from redis-server (B: a change
 *   message, a read's reply, resumable-stream's message);
 * - **to readers**: this instance wrote it to a reader's connection.
 *
 * The first line gives each hop's median, p90 and p99 over the run, the
 * instance's garbage collection pauses and its event loop's delay (sampled
 * every 5 ms), so that a late hop can be told from a paused or busy loop.
 * The next line, per hop, gives the median and p99 by quarter second of
 * the values' due times from the run's first (where in the answer the time
 * goes: the streams' starts, the resumes, the ends). The last tells how the
 * streams' schedules fall: the provider's values are due every `gap` ms
 * from when the contender subscribed it, so streams whose start the
 * contender completed in one go have values due in the same millisecond for
 * the whole answer ("at most N due in one ms").
 *
 * Times are wall clocks (`performance.timeOrigin + performance.now()`) of
 * processes on one machine.
 */
import { Socket } from 'node:net';
import { monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';
import { median, quantile } from './stats.js';

export const TRACE_HOPS = process.env.BENCH_TRACE_HOPS === '1';

const HOPS = ['emitted', 'to Redis', 'from Redis', 'to readers'] as const;
type Hop = (typeof HOPS)[number];
const QUARTER_MS = 250;

const STAMP = /\\?"t\\?":(\d+(?:\.\d+)?)/g;
/** Per hop, each stamp seen: when it was due, and how late it went by. */
const seen: Record<Hop, Array<{ due: number; late: number }>> = { emitted: [], 'to Redis': [], 'from Redis': [], 'to readers': [] };
let pauses: number[] = [];
let loopDelay: IntervalHistogram | undefined;

function note(hop: Hop, chunk: unknown): void {
  if (chunk === null || chunk === undefined) return;
  const now = performance.timeOrigin + performance.now();
  for (const match of String(chunk).matchAll(STAMP)) {
    const due = Number(match[1]);
    seen[hop].push({ due, late: now - due });
  }
}

/** Notes that the provider emitted a value due at `due` (only when tracing). */
export function noteEmitted(due: number): void {
  if (TRACE_HOPS) seen.emitted.push({ due, late: performance.timeOrigin + performance.now() - due });
}

/** Starts watching this process's sockets (only when tracing); `redisPort` tells Redis connections from readers'. */
export function traceHops(redisPort: number): void {
  if (!TRACE_HOPS) return;
  new PerformanceObserver((list) => pauses.push(...list.getEntries().map((entry) => entry.duration))).observe({ entryTypes: ['gc'] });
  loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const prototype = Socket.prototype as unknown as {
    _writev(this: Socket, chunks: Array<{ chunk: unknown }>, callback: unknown): unknown;
    _write(this: Socket, chunk: unknown, encoding: unknown, callback: unknown): unknown;
    push(this: Socket, chunk: unknown, encoding?: unknown): boolean;
  };
  const { _writev: writev, _write: write, push } = prototype;
  const outgoing = (socket: Socket): Hop => (socket.remotePort === redisPort ? 'to Redis' : 'to readers');
  prototype._writev = function (chunks, callback) {
    for (const { chunk } of chunks) note(outgoing(this), chunk);
    return writev.call(this, chunks, callback);
  };
  prototype._write = function (chunk, encoding, callback) {
    note(outgoing(this), chunk);
    return write.call(this, chunk, encoding, callback);
  };
  prototype.push = function (chunk, encoding) {
    if (this.remotePort === redisPort) note('from Redis', chunk);
    return push.call(this, chunk, encoding);
  };
}

/** The lines for what this instance traced since the last call (none when it saw no stamp), then forgets it. */
export function hopTraceLines(label: string): string[] {
  const hops = HOPS.filter((hop) => seen[hop].length > 0);
  const lines: string[] = [];
  if (hops.length > 0) {
    const whole = hops.map((hop) => {
      const late = seen[hop].map((value) => value.late);
      return `${hop} ${late.length}, ${ms(median(late))} / ${ms(quantile(late, 0.9))} / ${ms(quantile(late, 0.99))}`;
    });
    const gc = `gc ${pauses.length} pauses, ${ms(pauses.reduce((sum, pause) => sum + pause, 0))} ms, longest ${ms(Math.max(0, ...pauses))}`;
    const delay = loopDelay ? `; loop delay ${ms(loopDelay.percentile(50) / 1e6)} / ${ms(loopDelay.percentile(99) / 1e6)} / ${ms(loopDelay.max / 1e6)}` : '';
    lines.push(`hop trace, ${label} (values; ms after due, median / p90 / p99): ${whole.join('; ')}; ${gc}${delay}`);
    for (const hop of hops) lines.push(`  ${hop}, by quarter second of due time (median / p99): ${byQuarter(seen[hop])}`);
    const first = seen[hops[0]!];
    const perMs = new Map<number, number>();
    for (const { due } of first) perMs.set(Math.floor(due), (perMs.get(Math.floor(due)) ?? 0) + 1);
    lines.push(`  ${hops[0]}: ${first.length} values due in ${perMs.size} distinct ms, at most ${Math.max(...perMs.values())} due in one ms`);
  }
  for (const hop of HOPS) seen[hop] = [];
  pauses = [];
  loopDelay?.reset();
  return lines;
}

function byQuarter(values: ReadonlyArray<{ due: number; late: number }>): string {
  const start = Math.min(...values.map((value) => value.due));
  const quarters: number[][] = [];
  for (const { due, late } of values) (quarters[Math.floor((due - start) / QUARTER_MS)] ??= []).push(late);
  return quarters.flatMap((late, i) => `${i * QUARTER_MS}: ${ms(median(late))}/${ms(quantile(late, 0.99))}`).join(', ');
}

const ms = (value: number) => value.toFixed(1);
