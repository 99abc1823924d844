/**
 * npm run bench:relay [-- --quick]
 *
 * One relay process serving CLIENTS concurrent SSE streams over loopback, with
 * the in-memory store and with Redis Streams (a real redis-server on a
 * loopback port), beside the baseline: the same synthetic provider written
 * straight to the response, no relay. Reports events/s, the latency each event
 * gains on its way through the relay (client receive time minus provider
 * stamp, medians and p99, minus the baseline's), and the relay process's heap
 * per open stream. Every run is bounded and stops by itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import { startRedisServer } from '../spec/support/redisServer.js';

const quick = process.argv.includes('--quick');
const CLIENTS = quick ? 100 : 1_000;
const EVENTS = 30;
const GAP_MS = 100;
const ROUNDS = quick ? 1 : 3;
const log = (line: string) => process.stdout.write(`${line}\n`);

function startRelay(mode: string, env: NodeJS.ProcessEnv = {}): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(__dirname, 'relayServer.ts')], {
    env: { ...process.env, ...env, MODE: mode, EVENTS: String(EVENTS), GAP_MS: String(GAP_MS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (piece: Buffer) => {
      out += piece.toString();
      const port = /listening (\d+)/.exec(out)?.[1];
      if (port) resolve({ url: `http://127.0.0.1:${port}`, child });
    });
    child.once('exit', (code) => reject(new Error(`relay server (${mode}) exited with ${code}`)));
  });
}

/** Reads one stream to its end; returns the per-event latencies (ms). */
async function readStream(url: string): Promise<number[]> {
  const latencies: number[] = [];
  const response = await fetch(url, { signal: AbortSignal.timeout(120_000) });
  const parser = createParser({
    onEvent: (event) => {
      if (event.event !== undefined) return;
      const { t } = JSON.parse(event.data) as { t: number };
      latencies.push(performance.timeOrigin + performance.now() - t);
    },
  });
  const decoder = new TextDecoder();
  for await (const piece of response.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(piece, { stream: true }));
  return latencies;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

async function measure(mode: string, env: NodeJS.ProcessEnv = {}) {
  const { url, child } = await startRelay(mode, env);
  try {
    const before = (await (await fetch(`${url}/stats`)).json()) as { heapUsed: number };
    const started = performance.now();
    let peakHeap = before.heapUsed;
    const streams = Array.from({ length: CLIENTS }, (_, n) => readStream(`${url}/s${n}`));
    // Sample the heap while every stream is open (half-way through the answer).
    const sample = new Promise<void>((done) =>
      setTimeout(async () => {
        peakHeap = ((await (await fetch(`${url}/stats`)).json()) as { heapUsed: number }).heapUsed;
        done();
      }, (EVENTS * GAP_MS) / 2),
    );
    const latencies = (await Promise.all(streams)).flat();
    await sample;
    const seconds = (performance.now() - started) / 1000;
    if (latencies.length !== CLIENTS * EVENTS) throw new Error(`${mode}: ${latencies.length} events arrived, expected ${CLIENTS * EVENTS}`);
    latencies.sort((a, b) => a - b);
    return {
      mode,
      eventsPerSecond: latencies.length / seconds,
      median: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      heapPerStream: (peakHeap - before.heapUsed) / CLIENTS,
    };
  } finally {
    child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  log(`relay bench: ${CLIENTS} concurrent streams of ${EVENTS} events, ${GAP_MS} ms apart, over loopback; medians of ${ROUNDS} interleaved rounds`);
  const redis = await startRedisServer();
  try {
    // Interleaved rounds, so machine drift hits every path alike; figures are medians over rounds.
    const modes: Array<[string, NodeJS.ProcessEnv]> = [['direct', {}], ['memory', {}], ['redis', { REDIS_URL: redis.url }]];
    const runs: Record<string, Awaited<ReturnType<typeof measure>>[]> = { direct: [], memory: [], redis: [] };
    for (let round = 0; round < ROUNDS; round++) for (const [mode, env] of modes) runs[mode]!.push(await measure(mode, env));
    const mid = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const results = modes.map(([mode]) => {
      const list = runs[mode]!;
      return {
        mode,
        eventsPerSecond: mid(list.map((r) => r.eventsPerSecond)),
        median: mid(list.map((r) => r.median)),
        p99: mid(list.map((r) => r.p99)),
        heapPerStream: mid(list.map((r) => r.heapPerStream)),
      };
    });
    const direct = results[0]!;
    log('| path | events/s | latency median | p99 | added median | added p99 | heap per open stream |');
    log('|---|---|---|---|---|---|---|');
    for (const r of results) {
      const added = r === direct ? '–' : `${(r.median - direct.median).toFixed(2)} ms`;
      const addedP99 = r === direct ? '–' : `${(r.p99 - direct.p99).toFixed(2)} ms`;
      log(`| ${r.mode} | ${Math.round(r.eventsPerSecond)} | ${r.median.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${added} | ${addedP99} | ${(r.heapPerStream / 1024).toFixed(1)} KiB |`);
    }
  } finally {
    await redis.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
