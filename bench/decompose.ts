/**
 * npm run bench:decompose [-- --rounds 25]
 *
 * Where the library's time over FLOOR goes (issue 23's two ratios): the
 * pipeline cut after each of its steps, side by side with FLOOR in one
 * process, interleaved round by round, 100k chunks in 16 KiB pieces, in
 * memory (text and tool-call streams). Each step's ratio to FLOOR is the
 * median of per-round ratios, in steady state (runs back to back) and, in
 * rounds of their own, after a full collection (`gc()` before each run, as
 * `npm run bench` does). Every contender is checked: the full ones
 * end with the exact text and arguments, the cut ones see every character.
 *
 * - FLOOR without the text: FLOOR parsing every chunk, keeping only a count.
 * - source + untilDone: fromChatCompletion → untilDone, each chunk dropped.
 * - + the text, as FLOOR keeps it: the same, the consumer concatenating the
 *   content and the arguments as FLOOR does (no snapshot).
 * - a fold with no checks: the same, then a stand-in for accumulateContent
 *   that emits the snapshot's objects and checks nothing (`standInFold.ts`).
 * - library: fromChatCompletion → untilDone → accumulateContent (the bench's contender).
 */
import { createParser } from 'eventsource-parser';
import { loadavg } from 'node:os';
import { fromChatCompletion, untilDone, type ChatCompletionChunk } from 'rxjs-llm-stream';
import { floor, library, type Contender, type Result } from './contenders.js';
import { inMemoryFetch } from './delivery.js';
import { cut, generateStream, type GeneratedStream } from './generator.js';
import { table, type Row } from './report.js';
import { rounds } from './rounds.js';
import { argumentsOf, foldWithNoChecks } from './standInFold.js';
import { fmt, pairedRatio } from './stats.js';

const at = process.argv.indexOf('--rounds');
const count = at >= 0 ? Number(process.argv[at + 1]) : 25;
const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'bench' }] };

/** What a cut contender saw: the characters of content and arguments, not the strings. */
const seen = (characters: number, argumentCharacters: number): Result => ({ text: String(characters), args: String(argumentCharacters), firstChunkMs: 0 });

const floorWithoutText: Contender = async (fetch, baseURL) => {
  const response = await fetch(`${baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify({ ...body, stream: true }) });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let characters = 0;
  let argumentCharacters = 0;
  const parser = createParser({
    onEvent(event) {
      if (event.data === '[DONE]') return;
      const delta = JSON.parse(event.data).choices[0]?.delta;
      if (!delta) return;
      if (delta.content) characters += delta.content.length;
      if (delta.tool_calls) for (const call of delta.tool_calls) argumentCharacters += call.function?.arguments?.length ?? 0;
    },
  });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parser.feed(decoder.decode(value, { stream: true }));
  }
  return seen(characters, argumentCharacters);
};

/** fromChatCompletion → untilDone, each chunk handed to `take`. */
const untilDoneWith =
  (take: (chunk: ChatCompletionChunk) => void, result: () => Result): Contender =>
  (fetch, baseURL) =>
    new Promise((resolve, reject) => {
      fromChatCompletion({ baseURL, fetch, body })
        .pipe(untilDone())
        .subscribe({ next: take, error: reject, complete: () => resolve(result()) });
    });

const sourceAndUntilDone: Contender = (fetch, baseURL) => {
  let characters = 0;
  let argumentCharacters = 0;
  return untilDoneWith(
    (chunk) => {
      const delta = chunk.choices[0]?.delta;
      characters += delta?.content?.length ?? 0;
      for (const call of delta?.tool_calls ?? []) argumentCharacters += argumentsOf(call).length;
    },
    () => seen(characters, argumentCharacters),
  )(fetch, baseURL);
};

const withFloorsText: Contender = (fetch, baseURL) => {
  let text = '';
  let args = '';
  return untilDoneWith(
    (chunk) => {
      const delta = chunk.choices[0]?.delta;
      if (delta?.content) text += delta.content;
      for (const call of delta?.tool_calls ?? []) args += argumentsOf(call);
    },
    () => ({ text, args, firstChunkMs: 0 }),
  )(fetch, baseURL);
};

const CUTS: Record<string, Contender> = {
  FLOOR: floor,
  'FLOOR without the text': floorWithoutText,
  'source + untilDone': sourceAndUntilDone,
  '+ the text, as FLOOR keeps it': withFloorsText,
  'a fold with no checks (the snapshot\'s objects only)': foldWithNoChecks,
  'library (+ accumulateContent)': library,
};
const CUT_SHORT = new Set(['FLOOR without the text', 'source + untilDone']);

function right(name: string, result: Result, expected: GeneratedStream): boolean {
  if (CUT_SHORT.has(name)) return result.text === String(expected.text.length) && result.args === String(expected.args.length);
  return result.text === expected.text && result.args === expected.args;
}

async function main(): Promise<void> {
  const loadAtStart = loadavg();
  const rows: Row[] = [];
  for (const variant of ['text', 'tools'] as const) {
    const stream = generateStream(100_000, variant, variant === 'text' ? 42 : 43);
    const fetch = inMemoryFetch(cut(stream.bytes, '16k'));
    const measure = (collect: boolean) => rounds(CUTS, count, (contender) => contender(fetch, 'http://bench.invalid/v1'), (name, result) => right(name, result, stream), 2, collect);
    const steady = await measure(false);
    const collected = await measure(true);
    for (const name of Object.keys(CUTS)) {
      const wrong = [...steady[name]!, ...collected[name]!].some(Number.isNaN);
      rows.push({
        stream: variant === 'text' ? 'text' : 'tool-call arguments',
        step: wrong ? `${name} (WRONG OUTPUT)` : name,
        'time / FLOOR (steady)': fmt(pairedRatio(steady[name]!, steady.FLOOR!)),
        'time / FLOOR (after a full collection)': fmt(pairedRatio(collected[name]!, collected.FLOOR!)),
      });
    }
  }
  const load = (values: number[]) => values.map((x) => x.toFixed(1)).join(', ');
  process.stdout.write(`load average (1, 5, 15 min) ${load(loadAtStart)} at the start, ${load(loadavg())} at the end; ${count} rounds\n\n${table(rows)}\n`);
  if (rows.some((row) => String(row.step).includes('WRONG'))) process.exitCode = 1;
}

void main();
