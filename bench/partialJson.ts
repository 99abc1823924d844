/**
 * npm run bench:json            cost per fragment of parsing streamed JSON, 1 KB to 1 MB documents
 * npm run bench:json -- --quick a smoke run (1 KB to 100 KB, one round)
 *
 * Every document arrives in 100-character fragments (10,000 of them for 1 MB),
 * and after each fragment the best parse of the text so far is read. The
 * records document is a structured answer (the content), the long string one
 * tool-call arguments. Six contenders, in one process, interleaved round by
 * round; figures are medians:
 *
 * - parse only:  the library's parser, fed each fragment (src/json/partialJson.ts),
 *                without reading the value;
 * - incremental: the same, reading the value after each fragment (new frozen copies of
 *                the containers still open: the price of immutable values);
 * - operator:    the pipeline as users run it: each fragment as a chunk through
 *                accumulateContent and parseJsonAsItStreams (adds the fold, and the
 *                operator's bookkeeping; the new text comes from the snapshot's
 *                appended mark);
 * - no mark:     parseJsonAsItStreams alone over snapshots built by `+=` without the
 *                mark (snapshots made elsewhere): it reads the new text out of the
 *                snapshot string, which makes V8 flatten the whole rope;
 * - re-parse:    the same parser run afresh over the whole prefix at every fragment
 *                (the naive way, as openai-node and the AI SDK do with their parsers);
 * - partial-json: the npm package openai-node vendors, `parse(prefix)` at every fragment.
 *
 * The whole-prefix contenders are timed at 50 fragments spread evenly over the
 * document (their cost grows with the position, so the median is the cost at
 * the middle); the incremental ones at every fragment.
 */
import { isDeepStrictEqual } from 'node:util';
import { parse as partialJsonParse } from 'partial-json';
import { Subject } from 'rxjs';
import { PartialJsonParser } from '../src/json/partialJson.js';
import { accumulateContent } from '../src/operators/accumulateContent.js';
import { parseJsonAsItStreams, type ParseJsonAsItStreamsOptions } from '../src/operators/parseJsonAsItStreams.js';
import type { ChatCompletionChunk, ChatCompletionSnapshot } from '../src/types.js';
import { fmt, median, rotate } from './stats.js';

const quick = process.argv.includes('--quick');
const SIZES = quick ? [1_000, 10_000, 100_000] : [1_000, 10_000, 100_000, 1_000_000];
const ROUNDS = quick ? 1 : 3;
const FRAGMENT = 100;
const SAMPLES = 50;
const log = (line: string) => process.stdout.write(`${line}\n`);

/** A structured answer: an array of records, grown to about `size` characters. */
function recordsDocument(size: number): string {
  const items: unknown[] = [];
  const document = { title: 'Catalogue "spring" – 中文 ✓', items };
  for (let i = 0; JSON.stringify(document).length < size; i++) {
    items.push({ id: i, name: `item ${i}`, text: `Line one\nline "two" of item ${i} ✓`.repeat(2), tags: ['a', 'b'], price: i * 1.25, ok: i % 2 === 0, note: null });
  }
  return JSON.stringify(document);
}

/** Tool-call arguments with one long string (a file's code), about `size` characters. */
function longStringDocument(size: number): string {
  let code = '';
  for (let i = 0; code.length < size; i++) code += `const value${i} = "text ${i}"; // ✓\n`;
  return JSON.stringify({ path: 'src/app.ts', code: code.slice(0, size) });
}

function fragments(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += FRAGMENT) out.push(text.slice(i, i + FRAGMENT));
  return out;
}

const sampleSet = (count: number) => new Set(Array.from({ length: Math.min(SAMPLES, count) }, (_, k) => Math.floor(((k + 0.5) * count) / Math.min(SAMPLES, count))));

const now = () => process.hrtime.bigint();
const micros = (from: bigint, to: bigint) => Number(to - from) / 1000;

/** Where a document streams: the answer text, or the arguments of a tool call. */
type Carrier = 'content' | 'arguments';

type Contender = (parts: string[], whole: unknown, carrier: Carrier) => number[];

const TOOL = 'write_file';
const answerFrom = (carrier: Carrier): ParseJsonAsItStreamsOptions['answerFrom'] => (carrier === 'content' ? 'content' : { toolName: TOOL });

function chunkOf(part: string, carrier: Carrier, first: boolean): ChatCompletionChunk {
  const delta =
    carrier === 'content'
      ? { content: part }
      : { tool_calls: [first ? { index: 0, id: 'call_1', type: 'function' as const, function: { name: TOOL, arguments: part } } : { index: 0, function: { arguments: part } }] };
  return { id: 'c1', choices: [{ index: 0, delta, finish_reason: null }] };
}

function snapshotOf(text: string, carrier: Carrier): ChatCompletionSnapshot {
  const toolCalls = carrier === 'content' ? [] : [{ index: 0, id: 'call_1', type: 'function' as const, function: { name: TOOL, arguments: text } }];
  return { content: carrier === 'content' ? text : '', reasoning: '', refusal: '', toolCalls, finishReason: null, choices: [] };
}

/**
 * Times `parse` over the whole text received so far, at the sampled fragments
 * (see sampleSet), and checks its result on the last fragment.
 */
function timeWholeParses(name: string, parts: string[], whole: unknown, parse: (prefix: string) => unknown): number[] {
  const sampled = sampleSet(parts.length);
  const times: number[] = [];
  let prefix = '';
  parts.forEach((part, k) => {
    prefix += part;
    if (!sampled.has(k) && k !== parts.length - 1) return;
    const started = now();
    const value = parse(prefix);
    const elapsed = micros(started, now());
    if (sampled.has(k)) times.push(elapsed);
    if (k === parts.length - 1 && !isDeepStrictEqual(value, whole)) throw new Error(`${name}: wrong result`);
  });
  return times;
}

const contenders: Record<string, Contender> = {
  'parse only'(parts, whole) {
    const parser = new PartialJsonParser();
    const times: number[] = [];
    for (const part of parts) {
      const started = now();
      parser.push(part);
      times.push(micros(started, now()));
    }
    if (!isDeepStrictEqual(parser.finish(), whole)) throw new Error('parse only: wrong result');
    return times;
  },
  incremental(parts, whole) {
    const parser = new PartialJsonParser();
    const times: number[] = [];
    for (const part of parts) {
      const started = now();
      parser.push(part);
      parser.value();
      times.push(micros(started, now()));
    }
    if (!isDeepStrictEqual(parser.finish(), whole)) throw new Error('incremental: wrong result');
    return times;
  },
  operator(parts, whole, carrier) {
    const chunks = new Subject<ChatCompletionChunk>();
    let last: unknown;
    chunks.pipe(accumulateContent(), parseJsonAsItStreams({ answerFrom: answerFrom(carrier) })).subscribe((value) => (last = value.partial));
    const times: number[] = [];
    parts.forEach((part, k) => {
      const chunk = chunkOf(part, carrier, k === 0);
      const started = now();
      chunks.next(chunk);
      times.push(micros(started, now()));
    });
    chunks.complete();
    // A top-level object is whole once its closing brace arrived.
    if (!isDeepStrictEqual(last, whole)) throw new Error('operator: wrong result');
    return times;
  },
  'no mark'(parts, whole, carrier) {
    const snapshots = new Subject<ChatCompletionSnapshot>();
    let last: unknown;
    snapshots.pipe(parseJsonAsItStreams({ answerFrom: answerFrom(carrier) })).subscribe((value) => (last = value.partial));
    const times: number[] = [];
    let text = '';
    for (const part of parts) {
      text += part;
      const snapshot = snapshotOf(text, carrier);
      const started = now();
      snapshots.next(snapshot);
      times.push(micros(started, now()));
    }
    snapshots.complete();
    if (!isDeepStrictEqual(last, whole)) throw new Error('no mark: wrong result');
    return times;
  },
  're-parse': (parts, whole) =>
    timeWholeParses('re-parse', parts, whole, (prefix) => {
      const parser = new PartialJsonParser();
      parser.push(prefix);
      return parser.value();
    }),
  'partial-json': (parts, whole) => timeWholeParses('partial-json', parts, whole, partialJsonParse),
};

const gc = (globalThis as { gc?: () => void }).gc;
const names = Object.keys(contenders);
// Warm-up: every contender once over a 10 KB document of each shape, so the JIT has compiled them.
for (const [build, carrier] of [
  [recordsDocument, 'content'],
  [longStringDocument, 'arguments'],
] as const) {
  const text = build(10_000);
  for (const name of names) contenders[name]!(fragments(text), JSON.parse(text), carrier);
}
log(`# Partial JSON: µs per ${FRAGMENT}-character fragment (median), ${ROUNDS} round(s), Node ${process.version}`);
for (const [shape, build, carrier] of [
  ['records (content)', recordsDocument, 'content'],
  ['long string (tool-call arguments)', longStringDocument, 'arguments'],
] as const) {
  log('');
  log(`## ${shape}`);
  log('');
  log(`| document | fragments | ${names.join(' | ')} | re-parse / incremental | partial-json / incremental |`);
  log(`|---|---|${names.map(() => '---|').join('')}---|---|`);
  const flat: Record<string, number[]> = { 'parse only': [], incremental: [], operator: [], 'no mark': [] };
  for (const size of SIZES) {
    const text = build(size);
    const whole: unknown = JSON.parse(text);
    const parts = fragments(text);
    const results: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of rotate(names, round)) {
        gc?.();
        results[name]!.push(median(contenders[name]!(parts, whole, carrier)));
      }
    }
    const medians = Object.fromEntries(names.map((name) => [name, median(results[name]!)])) as Record<string, number>;
    for (const name of Object.keys(flat)) flat[name]!.push(medians[name]!);
    log(
      `| ${fmt(text.length / 1000, 0)} KB | ${parts.length} | ${names.map((name) => fmt(medians[name]!, 2)).join(' | ')} | ` +
        `${fmt(medians['re-parse']! / medians.incremental!, 0)}× | ${fmt(medians['partial-json']! / medians.incremental!, 0)}× |`,
    );
  }
  log('');
  log(`largest / smallest document: ${Object.entries(flat).map(([name, values]) => `${name} ${fmt(values.at(-1)! / values[0]!, 2)}×`).join(', ')}`);
}
