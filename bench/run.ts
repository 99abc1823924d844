/**
 * npm run bench            the full run: writes bench/RESULTS.md and bench/ratios.svg
 * npm run bench -- --quick a smoke run in under a minute: prints only, exits 1 if any output is wrong
 *
 * Every contender runs in the same process, interleaved round by round, so
 * machine drift hits all alike; figures are medians, and ratios are medians
 * of per-round ratios (`pairedRatio`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { CONTENDERS, floor, library, type Contender, type Result } from './contenders.js';
import { inMemoryFetch, startBenchServer, type Fetch } from './delivery.js';
import { cut, generateStream, type GeneratedStream } from './generator.js';
import { ratioChart, table, type Row } from './report.js';
import { rounds } from './rounds.js';
import { fmt, kilo, max, median, min, pairedRatio, rotate } from './stats.js';
import { simulateStorm } from './storm.js';
import { jsonRace } from './jsonRace.js';
import { foldWithNoChecks } from './standInFold.js';
import { loadavg } from 'node:os';

const quick = process.argv.includes('--quick');
/**
 * `--short`: the full sizes (100k-chunk streams, 500 concurrent streams, 1 MB
 * of partial JSON) with fewer rounds, FLOOR and the library only in the
 * throughput rounds, and no 1M-chunk scaling or heap run: for a loaded
 * machine. Prints only, like `--quick`.
 */
const short = process.argv.includes('--short');
const config = quick
  ? { chunks: 10_000, rounds: 2, scaling: [10_000, 30_000], heapChunks: 50_000, ttfcRequests: 10, concurrent: 50, concurrentChunks: 300, concurrentRounds: 2, stormClients: 2_000 }
  : short
    ? { chunks: 100_000, rounds: 5, scaling: [10_000, 100_000], heapChunks: 100_000, ttfcRequests: 20, concurrent: 500, concurrentChunks: 2_000, concurrentRounds: 3, stormClients: 10_000 }
    : { chunks: 100_000, rounds: 11, scaling: [10_000, 100_000, 1_000_000], heapChunks: 1_000_000, ttfcRequests: 50, concurrent: 500, concurrentChunks: 2_000, concurrentRounds: 5, stormClients: 10_000 };
const gc = (globalThis as { gc?: () => void }).gc;
const wrong = new Set<string>();
const log = (line: string) => process.stdout.write(`${line}\n`);

function check(name: string, result: Result, expected: GeneratedStream): boolean {
  const ok = result.text === expected.text && result.args === expected.args;
  if (!ok) wrong.add(name);
  return ok;
}

/** The contenders named, each run once per round after a warm-up round; ms per contender and round (NaN: wrong output). */
function roundsOf(names: string[], expected: GeneratedStream, run: (contender: Contender) => Promise<Result>, count = config.rounds, collect = true): Promise<Record<string, number[]>> {
  const chosen = Object.fromEntries(names.map((name) => [name, CONTENDERS[name]!]));
  return rounds(chosen, count, run, (name, result) => check(name, result, expected), 1, collect);
}

interface ModeFigures {
  mode: string;
  chunks: number;
  /** Steady state: runs back to back, no forced collection (the headline). */
  times: Record<string, number[]>;
  /** The same rounds with a full collection (`gc()`) before each run. */
  collected: Record<string, number[]>;
}

async function throughput(): Promise<ModeFigures[]> {
  const names = short ? ['FLOOR', 'library'] : Object.keys(CONTENDERS);
  const text = generateStream(config.chunks, 'text');
  const tools = generateStream(config.chunks, 'tools', 43);
  const figures: ModeFigures[] = [];
  for (const [mode, stream, pieces] of [
    ['16 KiB pieces', text, cut(text.bytes, '16k')],
    ['tiny pieces (1–64 B)', text, cut(text.bytes, 'tiny')],
    ['tool-call arguments, 16 KiB', tools, cut(tools.bytes, '16k')],
  ] as const) {
    const fetch = inMemoryFetch(pieces);
    const run = (contender: Contender) => contender(fetch, 'http://bench.invalid/v1');
    const times = await roundsOf(names, stream, run, config.rounds, false);
    const collected = await roundsOf(names, stream, run, config.rounds, true);
    figures.push({ mode, chunks: stream.chunks, times, collected });
    log(`  measured ${mode}`);
  }
  const server = await startBenchServer(() => cut(text.bytes, '16k'));
  try {
    const run = (contender: Contender) => contender(globalThis.fetch as Fetch, server.url);
    const times = await roundsOf(names, text, run, config.rounds, false);
    const collected = await roundsOf(names, text, run, config.rounds, true);
    figures.push({ mode: 'loopback HTTP', chunks: text.chunks, times, collected });
    log('  measured loopback HTTP');
  } finally {
    await server.close();
  }
  return figures;
}

async function timeToFirstChunk(): Promise<Record<string, number>> {
  const stream = generateStream(200, 'text');
  // The first piece holds the role chunk and the first content chunk; the rest follows 20 ms later.
  const server = await startBenchServer(() => [stream.bytes.subarray(0, 400), stream.bytes.subarray(400)], 20);
  const names = ['FLOOR', 'library', 'openai create'];
  const samples: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  try {
    for (let i = -3; i < config.ttfcRequests; i++) {
      for (const name of rotate(names, i + 3)) {
        const result = await CONTENDERS[name]!(globalThis.fetch as Fetch, server.url);
        if (check(name, result, stream) && i >= 0) samples[name]!.push(result.firstChunkMs);
      }
    }
  } finally {
    await server.close();
  }
  return Object.fromEntries(names.map((name) => [name, median(samples[name]!)]));
}

async function scaling(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const size of config.scaling) {
    const stream = generateStream(size, 'text', 11);
    const fetch = inMemoryFetch(cut(stream.bytes, '16k'));
        // Small sizes get more rounds, so warm-up and noise weigh the same at every size.
    const count = quick ? 2 : Math.max(3, Math.min(short ? 10 : 40, Math.round(2_000_000 / size)));
    const times = await roundsOf(['FLOOR', 'library'], stream, (contender) => contender(fetch, 'http://bench.invalid/v1'), count);
    rows.push({
      chunks: kilo(size),
      'FLOOR µs/chunk': fmt((median(times.FLOOR!) * 1000) / size, 3),
      'library µs/chunk': fmt((median(times['library']!) * 1000) / size, 3),
      'library / FLOOR': fmt(pairedRatio(times['library']!, times.FLOOR!)),
    });
    log(`  measured scaling at ${kilo(size)}`);
  }
  return rows;
}

async function heap(): Promise<Row[]> {
  if (!gc) return [{ contender: 'run with --expose-gc to measure the heap', 'retained after GC (MB)': '–', 'peak growth (MB)': '–' }];
  const stream = generateStream(config.heapChunks, 'text', 12);
  const fetch = inMemoryFetch(cut(stream.bytes, '16k'));
  const rows: Row[] = [];
  for (const [name, contender] of [['FLOOR', floor], ['library', library]] as const) {
    const retained: number[] = [];
    const peaks: number[] = [];
    for (let round = 0; round < 3; round++) {
      gc();
      gc();
      const base = process.memoryUsage().heapUsed;
      let peak = base;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 2);
      const result = await contender(fetch, 'http://bench.invalid/v1');
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().heapUsed);
      gc();
      gc();
      retained.push(process.memoryUsage().heapUsed - base);
      peaks.push(peak - base);
      check(name, result, stream);
    }
    rows.push({ contender: name, 'retained after GC (MB)': fmt(median(retained) / 1e6), 'peak growth (MB)': fmt(median(peaks) / 1e6), 'text (MB, UTF-16)': fmt((stream.text.length * 2) / 1e6) });
  }
  return rows;
}

async function concurrency(): Promise<Row[]> {
  const stream = generateStream(config.concurrentChunks, 'text', 13);
  const server = await startBenchServer(() => cut(stream.bytes, '16k'));
  // The stand-in says what any operator emitting accumulateContent's snapshots costs here at the least.
  const contenders: Record<string, Contender> = { FLOOR: floor, library, 'fold with no checks': foldWithNoChecks };
  const rows: Record<string, { rates: number[]; delays: number[] }> = Object.fromEntries(Object.keys(contenders).map((name) => [name, { rates: [], delays: [] }]));
  try {
    for (let round = -1; round < config.concurrentRounds; round++) {
      for (const name of rotate(Object.keys(contenders), round + 1)) {
        const histogram = monitorEventLoopDelay({ resolution: 5 });
        histogram.enable();
        const started = performance.now();
        const results = await Promise.all(Array.from({ length: config.concurrent }, () => contenders[name]!(globalThis.fetch as Fetch, server.url)));
        const seconds = (performance.now() - started) / 1000;
        histogram.disable();
        const allOk = results.every((result) => check(name, result, stream));
        if (round >= 0) {
          rows[name]!.rates.push(allOk ? (config.concurrent * stream.chunks) / seconds : NaN);
          rows[name]!.delays.push(histogram.max / 1e6);
        }
      }
    }
  } finally {
    await server.close();
  }
  return Object.entries(rows).map(([name, { rates, delays }]) => ({
    contender: name,
    streams: String(config.concurrent),
    'chunks/s (aggregate, median)': kilo(median(rates)),
    'ratio to FLOOR': fmt(pairedRatio(rates, rows.FLOOR!.rates)),
    'worst event-loop delay (ms)': fmt(median(delays), 1),
  }));
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadAtStart = loadavg();
  log(`rxjs-llm-stream benchmark${quick ? ' (quick)' : ''}: Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadAtStart.map((x) => x.toFixed(1)).join(' ')}`);
  const modes = await throughput();
  const throughputRows: Row[] = modes.flatMap((figures) =>
    Object.entries(figures.times).map(([name, times]) => ({
      mode: figures.mode,
      contender: wrong.has(name) ? `${name} (WRONG OUTPUT)` : name,
      'chunks/s median': kilo(figures.chunks / (median(times) / 1000)),
      'min–max': `${kilo(figures.chunks / (max(times) / 1000))}–${kilo(figures.chunks / (min(times) / 1000))}`,
      'µs/chunk': fmt((median(times) * 1000) / figures.chunks, 3),
      'time / FLOOR (steady)': fmt(pairedRatio(times, figures.times.FLOOR!)),
      'time / FLOOR (after a full collection)': fmt(pairedRatio(figures.collected[name]!, figures.collected.FLOOR!)),
      'time / openai create (steady)': figures.times['openai create'] ? fmt(pairedRatio(times, figures.times['openai create']!)) : '–',
    })),
  );
  const ttfc = await timeToFirstChunk();
  log('  measured time to first chunk');
  const scalingRows = await scaling();
  const heapRows = await heap();
  log('  measured heap');
  const concurrencyRows = await concurrency();
  log('  measured concurrency');
  const jsonRows = await jsonRace(quick, log, short ? 3 : undefined);
  log('  measured partial JSON');
  const storm = (['none', 'full', 'equal', 'decorrelated', 0.5] as const).map((jitter) => simulateStorm(jitter, config.stormClients, Math.round(config.stormClients / 25)));
  const stormRows: Row[] = storm.map((result) => ({
    jitter: result.jitter,
    'peak reconnects / 100 ms': String(result.peakPerWindow),
    'peak / mean': fmt(result.peakToMean, 1),
    '99% recovered (s)': fmt(result.t99 / 1000, 1),
    attempts: String(result.attempts),
  }));
  const ttfcRows: Row[] = Object.entries(ttfc).map(([name, ms]) => ({ contender: name, 'median ms': fmt(ms, 3), 'over FLOOR (ms)': fmt(ms - ttfc.FLOOR!, 3) }));
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  const load = `load average (1, 5, 15 min) ${loadAtStart.map((x) => x.toFixed(1)).join(', ')} at the start, ${loadavg().map((x) => x.toFixed(1)).join(', ')} at the end`;
  log(load);

  log('');
  log(table(throughputRows));
  log('');
  log(table(ttfcRows));
  log('');
  log(table(scalingRows));
  log('');
  log(table(heapRows));
  log('');
  log(table(concurrencyRows));
  log('');
  log(table(jsonRows));
  log('');
  log(table(stormRows));
  log(`\n${wrong.size === 0 ? 'every contender produced the exact text' : `WRONG OUTPUT: ${[...wrong].join(', ')}`}; ${seconds} s`);

  if (!quick && !short) {
    const versions = `Node ${process.version} on ${platform()}/${arch()}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; openai ${await packageVersion('openai')}, rxjs ${await packageVersion('rxjs')}, eventsource-parser ${await packageVersion('eventsource-parser')}`;
    const results = [
      '# Benchmark results',
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench\` (${seconds} s): ${versions}; ${load}. The machine is shared and noisy; every figure is a median of interleaved rounds in one process, each ratio the median of the per-round ratios (each round runs every contender once, back to back), and the ratios matter more than the absolute numbers.`,
      '',
      '![time ratios](ratios.svg)',
      '',
      `## Throughput (${kilo(config.chunks)} chunks per stream, ${config.rounds} rounds after a warm-up)`,
      '',
      'Steady state (the headline): the runs follow each other as streams in an app do, with no forced collection. After a full collection: the same contenders in separate rounds with `gc()` before each run.',
      '',
      table(throughputRows),
      '',
      `## Time to first chunk over loopback (median of ${config.ttfcRequests} requests)`,
      '',
      table(ttfcRows),
      '',
      '## Scaling (16 KiB pieces, in memory)',
      '',
      table(scalingRows),
      '',
      `## Heap at ${kilo(config.heapChunks)} chunks`,
      '',
      table(heapRows),
      '',
      `## ${config.concurrent} concurrent loopback streams of ${kilo(config.concurrentChunks)} chunks`,
      '',
      table(concurrencyRows),
      '',
      '## Partial JSON: 1 MB array of records in 4-character fragments',
      '',
      table(jsonRows),
      '',
      `## Reconnect storm: ${config.stormClients} clients, a server accepting ${Math.round(config.stormClients / 25)} per 100 ms, retryWithBackoff defaults`,
      '',
      table(stormRows),
      '',
    ].join('\n');
    writeFileSync(join(__dirname, 'RESULTS.md'), results + relaySection());
    const chartModes = modes.map((figures) => figures.mode);
    const chartContenders = ['library', 'openai create', 'openai stream()', 'naive'];
    writeFileSync(
      join(__dirname, 'ratios.svg'),
      ratioChart(chartModes, chartContenders, (mode, contender) => {
        const figures = modes.find((m) => m.mode === mode)!;
        return pairedRatio(figures.times[contender]!, figures.times.FLOOR!);
      }),
    );
    log('wrote bench/RESULTS.md and bench/ratios.svg');
  }
  if (wrong.size > 0) process.exitCode = 1;
}

/** The relay's section of bench/RESULTS.md (written by `npm run bench:relay`), kept as it is. */
function relaySection(): string {
  let existing = '';
  try {
    existing = readFileSync(join(__dirname, 'RESULTS.md'), 'utf8');
  } catch {
    return '';
  }
  const start = existing.search(/^## .*[Rr]elay/m);
  if (start === -1) return '';
  const rest = existing.slice(start);
  const next = rest.slice(3).search(/^## /m);
  const section = next === -1 ? rest : rest.slice(0, next + 3);
  return `\n${section.trimEnd()}\n`;
}

async function packageVersion(name: string): Promise<string> {
  const { readFileSync } = await import('node:fs');
  const path = require.resolve(name).split(`node_modules/${name}`)[0] + `node_modules/${name}/package.json`;
  return JSON.parse(readFileSync(path, 'utf8')).version as string;
}


main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
