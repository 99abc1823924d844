/**
 * Partial JSON side by side: a 1 MB array of records arriving in 4-character
 * fragments (250,000 of them), parsed by
 * - `@streamparser/json` (`paths: ['$.*']`, `keepStack: false`): emits each
 *   record once it is complete, and never a partial value: the fastest way
 *   to stream JSON, and the reference;
 * - the library's parser (`src/json/partialJson.ts`), fed each fragment
 *   and read after each as `parseJsonAsItStreams` reads it (`current()`: an
 *   immutable partial value of the whole document);
 * - `accumulateContent` + `parseJsonAsItStreams`, each fragment a chunk: the
 *   pipeline as users run it.
 * Each contender's result is checked against `JSON.parse`. Rounds are
 * interleaved, with a `gc()` before each run; figures are medians, ratios
 * medians of per-round ratios.
 */
import { isDeepStrictEqual } from 'node:util';
import { JSONParser } from '@streamparser/json';
import { Subject } from 'rxjs';
import { PartialJsonParser } from '../src/json/partialJson.js';
import { accumulateContent } from '../src/operators/accumulateContent.js';
import { parseJsonAsItStreams } from '../src/operators/parseJsonAsItStreams.js';
import type { ChatCompletionChunk } from '../src/types.js';
import type { Row } from './report.js';
import { fmt, median, pairedRatio, rotate } from './stats.js';

const FRAGMENT = 4;

/** An array of records of about `size` characters, with escapes, non-ASCII and emoji in its strings. */
export function recordsArray(size: number): string {
  const items: unknown[] = [];
  let length = 2;
  for (let i = 0; length < size; i++) {
    const item = { id: i, name: `item ${i}`, text: `Line "one" – ${i} ✓ 😀\n`, tags: ['a', 'b'], price: i * 1.25, ok: i % 2 === 0, note: null };
    items.push(item);
    length += JSON.stringify(item).length + 1;
  }
  return JSON.stringify(items);
}

function fragmentsOf(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += FRAGMENT) out.push(text.slice(i, i + FRAGMENT));
  return out;
}

type Race = (parts: string[], whole: unknown) => boolean;

const contenders: Record<string, Race> = {
  '@streamparser/json'(parts, whole) {
    const records: unknown[] = [];
    const parser = new JSONParser({ paths: ['$.*'], keepStack: false });
    parser.onValue = ({ value }) => {
      records.push(value);
    };
    for (const part of parts) parser.write(part);
    if (!parser.isEnded) parser.end();
    return isDeepStrictEqual(records, whole);
  },
  'library parser, read after each fragment'(parts, whole) {
    const parser = new PartialJsonParser();
    let seen: unknown;
    for (const part of parts) {
      parser.push(part);
      seen = parser.current();
    }
    return seen !== undefined && isDeepStrictEqual(parser.finish(), whole);
  },
  'accumulateContent + parseJsonAsItStreams'(parts, whole) {
    const chunks = new Subject<ChatCompletionChunk>();
    let last: unknown;
    chunks.pipe(accumulateContent(), parseJsonAsItStreams()).subscribe((value) => (last = value.partial));
    for (const part of parts) chunks.next({ id: 'c1', choices: [{ index: 0, delta: { content: part }, finish_reason: null }] });
    chunks.complete();
    return isDeepStrictEqual(last, whole);
  },
};

/** Runs the race; returns the table rows (ms medians and ratios to `@streamparser/json`). */
export async function jsonRace(quick: boolean, log: (line: string) => void, roundCount?: number): Promise<Row[]> {
  const size = quick ? 100_000 : 1_000_000;
  const rounds = roundCount ?? (quick ? 1 : 5);
  const text = recordsArray(size);
  const whole: unknown = JSON.parse(text);
  const parts = fragmentsOf(text);
  const names = Object.keys(contenders);
  const gc = (globalThis as { gc?: () => void }).gc;
  const times: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  // Warm-up on a small document.
  const small = recordsArray(20_000);
  for (const name of names) contenders[name]!(fragmentsOf(small), JSON.parse(small));
  for (let round = 0; round < rounds; round++) {
    for (const name of rotate(names, round)) {
      gc?.();
      const started = performance.now();
      const ok = contenders[name]!(parts, whole);
      const ms = performance.now() - started;
      times[name]!.push(ok ? ms : NaN);
      if (!ok) log(`  partial JSON: ${name} gave a WRONG result`);
    }
  }
  const reference = times['@streamparser/json']!;
  return names.map((name) => ({
    contender: name,
    document: `${fmt(text.length / 1e6, 2)} MB, ${parts.length} fragments`,
    'ms (median)': fmt(median(times[name]!), 0),
    'time / @streamparser/json': fmt(pairedRatio(times[name]!, reference)),
  }));
}
