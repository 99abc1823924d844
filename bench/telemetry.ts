/**
 * npm run bench:telemetry [-- --rounds N]
 *
 * What withTelemetry costs, side by side in one process, on the main bench's
 * pipeline as it ships (the built package, as bench/contenders.ts's
 * `library`): fromChatCompletion → untilDone → accumulateContent, run
 *   - as is (the baseline), and as is a second time (the noise floor: the
 *     ratio two identical contenders reach in these rounds);
 *   - with withTelemetry between untilDone and accumulateContent (retries off,
 *     so only telemetry is added) and no OpenTelemetry SDK registered (the
 *     API's no-op tracer and meter);
 *   - with withTelemetry recording spans into the OpenTelemetry SDK but
 *     metrics into a no-op meter (what the recorder and the span cost,
 *     without the SDK's histogram records);
 *   - with withTelemetry recording into the OpenTelemetry SDK: a tracer
 *     provider whose span processor hands every span to an exporter that
 *     drops it, and a meter provider whose reader aggregates and is never
 *     collected.
 * Shapes: the main bench's throughput stream, shorter (20,000 chunks of 1–8
 * characters, 16 KiB pieces, in memory), forty short answers (50 chunks
 * each) where the per-answer cost (a span, four histograms) weighs most, and
 * the long one over loopback HTTP (a real socket, as in production).
 * Reported: medians of ms per run, and the median of the per-round ratios to
 * the baseline (bench/stats.ts's pairedRatio), in CPU time of this process
 * (process.cpuUsage: on a shared, loaded machine the wall time also counts
 * the time other processes held the CPU) and in wall time, with the load
 * average.
 */
import { createNoopMeter, metrics as metricsApi, type Meter, type Tracer } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { loadavg } from 'node:os';
// The built package, as the main bench uses it (see bench/contenders.ts).
import { accumulateContent, fromChatCompletion, untilDone, type ChatCompletionSnapshot } from 'rxjs-llm-stream';
import { withTelemetry } from 'rxjs-llm-stream/telemetry';
import { library, type Contender, type Result } from './contenders.js';
import { inMemoryFetch, startBenchServer, type Fetch } from './delivery.js';
import { cut, generateStream, type GeneratedStream } from './generator.js';
import { fmt, median, pairedRatio, rotate } from './stats.js';

const roundsFlag = process.argv.indexOf('--rounds');
const roundCount = roundsFlag > 0 ? Number(process.argv[roundsFlag + 1]) : 30;
const log = (line: string) => process.stdout.write(`${line}\n`);

const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'bench' }] };

/** An exporter that drops every span: the SDK's whole recording path runs, nothing leaves the process. */
const dropping: SpanExporter = {
  export: (_spans: ReadableSpan[], done) => done({ code: 0 }),
  shutdown: async () => {},
};
class NeverCollected extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}
const sdk = {
  tracer: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(dropping)] }).getTracer('bench'),
  meter: new MeterProvider({ readers: [new NeverCollected()] }).getMeter('bench'),
};

/** `answers` answers one after another: the main bench's pipeline with withTelemetry between untilDone and accumulateContent. */
const withTelemetryPipeline =
  (answers: number, sink?: { tracer: Tracer; meter: Meter }): Contender =>
  async (fetch: Fetch, baseURL: string): Promise<Result> => {
    let text = '';
    for (let i = 0; i < answers; i++) {
      const request = { baseURL, fetch, body };
      text = await new Promise<string>((resolve, reject) => {
        let last: ChatCompletionSnapshot | undefined;
        fromChatCompletion(request)
          .pipe(untilDone(), withTelemetry({ api: 'chat.completions', request, retry: false, ...sink }), accumulateContent())
          .subscribe({ next: (snapshot) => (last = snapshot), error: reject, complete: () => resolve(last?.content ?? '') });
      });
    }
    return { text, args: '', firstChunkMs: 0 };
  };

/** The main bench's `library` contender, `answers` times over. */
const baselinePipeline =
  (answers: number): Contender =>
  async (fetch, baseURL) => {
    let result: Result = { text: '', args: '', firstChunkMs: 0 };
    for (let i = 0; i < answers; i++) result = await library(fetch, baseURL);
    return result;
  };

const contenders = (answers: number): Record<string, Contender> => ({
  baseline: baselinePipeline(answers),
  'baseline again': baselinePipeline(answers),
  'withTelemetry, no SDK': withTelemetryPipeline(answers),
  'withTelemetry, SDK spans, no-op meter': withTelemetryPipeline(answers, { tracer: sdk.tracer, meter: createNoopMeter() }),
  'withTelemetry, SDK': withTelemetryPipeline(answers, sdk),
});

/**
 * Every contender once per round, in a rotating order, after `warmUp` rounds
 * not counted, with a gc() before each run (`--expose-gc`); CPU and wall
 * milliseconds per contender and round. A wrong answer stops the bench.
 */
async function measure(contenders: Record<string, Contender>, run: (contender: Contender) => Promise<Result>, expected: string, warmUp = 3) {
  const names = Object.keys(contenders);
  const gc = (globalThis as { gc?: () => void }).gc;
  const cpu: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  const wall: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = -warmUp; round < roundCount; round++) {
    for (const name of rotate(names, round + warmUp)) {
      gc?.();
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const result = await run(contenders[name]!);
      const ms = performance.now() - started;
      const used = process.cpuUsage(cpuBefore);
      if (result.text !== expected) throw new Error(`${name} gave the wrong text`);
      if (round >= 0) {
        cpu[name]!.push((used.user + used.system) / 1000);
        wall[name]!.push(ms);
      }
    }
  }
  return { cpu, wall };
}

async function shape(name: string, stream: GeneratedStream, pieces: Uint8Array[], answers: number, over: 'memory' | 'loopback' = 'memory'): Promise<void> {
  const server = over === 'loopback' ? await startBenchServer(() => pieces) : undefined;
  const fetch: Fetch = server ? (url, init) => globalThis.fetch(url, init) : inMemoryFetch(pieces);
  const all = contenders(answers);
  const loadBefore = loadavg()[0]!;
  const { cpu, wall } = await measure(all, (contender) => contender(fetch, server?.url ?? 'http://bench.invalid/v1'), stream.text).finally(() => server?.close());
  log(`\n${name}: ${roundCount} rounds, medians; load average ${fmt(loadBefore, 1)} before, ${fmt(loadavg()[0]!, 1)} after`);
  log('| contender | CPU ms per run | ratio to baseline, CPU | wall ms per run | ratio to baseline, wall |');
  log('|---|---|---|---|---|');
  for (const contender of Object.keys(all)) {
    const ratio = (times: Record<string, number[]>) => (contender === 'baseline' ? '1.00' : fmt(pairedRatio(times[contender]!, times['baseline']!), 3));
    log(`| ${contender} | ${fmt(median(cpu[contender]!), 1)} | ${ratio(cpu)} | ${fmt(median(wall[contender]!), 1)} | ${ratio(wall)} |`);
  }
}

async function main(): Promise<void> {
  if (!Number.isInteger(roundCount) || roundCount < 1) throw new Error('usage: npm run bench:telemetry [-- --rounds N]');
  if (metricsApi.getMeterProvider().constructor.name !== 'NoopMeterProvider') throw new Error('a global meter provider is registered: the no-SDK contender would not be one');
  log(`Node ${process.version}, ${(globalThis as { gc?: unknown }).gc ? 'gc() before each run' : 'no --expose-gc'}`);
  const long = generateStream(20_000);
  await shape('1 answer of 20,000 chunks, 16 KiB pieces, in memory', long, cut(long.bytes, '16k'), 1);
  const short = generateStream(50, 'text', 11);
  await shape('40 answers of 50 chunks, one piece each', short, [short.bytes], 40);
  await shape('1 answer of 20,000 chunks over loopback HTTP (16 KiB writes)', long, cut(long.bytes, '16k'), 1, 'loopback');
}

main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
  process.exitCode = 1;
});
