import { from, lastValueFrom, type Observable } from 'rxjs';
import { ParseError } from '../src/errors.js';
import { MAX_CHOICES, MAX_TEXT_LENGTH, MAX_TOOL_CALLS } from '../src/fold/foldLimits.js';
import { accumulateContent } from '../src/operators/accumulateContent.js';
import type { ChatCompletionChunk, ChatCompletionSnapshot } from '../src/types.js';

/**
 * Hostile streams: more calls, choices or text than any model sends. Each must
 * end in a typed ParseError after a bounded amount of work. The sizes make the
 * old code (arrays copied and scanned per delta) take many seconds; the
 * generous timeouts only guard against a hang, nothing here measures speed.
 */
const HANG_GUARD_MS = 120_000;

/** Folds `chunks`, returning every snapshot emitted and the error that ended the fold (if any). */
async function foldAll(chunks: ChatCompletionChunk[]): Promise<{ snapshots: ChatCompletionSnapshot[]; error: unknown }> {
  const snapshots: ChatCompletionSnapshot[] = [];
  const folded: Observable<ChatCompletionSnapshot> = from(chunks).pipe(accumulateContent());
  const error = await new Promise<unknown>((resolve) => folded.subscribe({ next: (s) => snapshots.push(s), error: resolve, complete: () => resolve(undefined) }));
  return { snapshots, error };
}

const choiceChunk = (index: number, delta: ChatCompletionChunk['choices'][number]['delta']): ChatCompletionChunk => ({
  id: 'hostile',
  choices: [{ index, delta, finish_reason: null }],
});

describe('accumulateContent against hostile sizes', () => {
  it(
    `ends 20,000 chunks that each open a tool call with a ParseError after ${MAX_TOOL_CALLS} calls`,
    async () => {
      const chunks = Array.from({ length: 20_000 }, (_, k) =>
        choiceChunk(0, { tool_calls: [{ index: k, id: `call_${k}`, type: 'function', function: { name: 'f', arguments: '{}' } }] }),
      );
      const { snapshots, error } = await foldAll(chunks);
      expect(error).toBeInstanceOf(ParseError);
      expect(error).toMatchObject({ name: 'ParseError', retryable: false });
      expect((error as Error).message).toContain(`more than ${MAX_TOOL_CALLS} tool calls`);
      expect(snapshots).toHaveLength(MAX_TOOL_CALLS);
      const last = snapshots.at(-1)!;
      expect(last.toolCalls).toHaveLength(MAX_TOOL_CALLS);
      expect(last.toolCalls.map((call) => call.index)).toEqual(Array.from({ length: MAX_TOOL_CALLS }, (_, k) => k));
      // Earlier snapshots kept the calls they had.
      expect(snapshots[9]!.toolCalls).toHaveLength(10);
    },
    HANG_GUARD_MS,
  );

  it(
    `ends 20,000 choices with a ParseError after ${MAX_CHOICES}`,
    async () => {
      const chunks = Array.from({ length: 20_000 }, (_, k) => choiceChunk(k, { content: 'x' }));
      const { snapshots, error } = await foldAll(chunks);
      expect(error).toBeInstanceOf(ParseError);
      expect((error as Error).message).toContain(`more than ${MAX_CHOICES} choices`);
      expect(snapshots).toHaveLength(MAX_CHOICES);
      expect(snapshots.at(-1)!.choices).toHaveLength(MAX_CHOICES);
      expect(snapshots.at(-1)!.content).toBe('x');
    },
    HANG_GUARD_MS,
  );

  it('keeps fragments of many open calls apart without losing any', async () => {
    const calls = 200;
    const chunks: ChatCompletionChunk[] = [];
    for (let k = 0; k < calls; k++) chunks.push(choiceChunk(0, { tool_calls: [{ index: k, id: `call_${k}`, function: { name: `f${k}`, arguments: '' } }] }));
    for (let round = 0; round < 5; round++) {
      for (let k = calls - 1; k >= 0; k--) chunks.push(choiceChunk(0, { tool_calls: [{ index: k, function: { arguments: String(round) } }] }));
    }
    const { snapshots, error } = await foldAll(chunks);
    expect(error).toBeUndefined();
    const last = snapshots.at(-1)!;
    expect(last.toolCalls).toHaveLength(calls);
    expect(last.toolCalls.every((call, k) => call.id === `call_${k}` && call.function.name === `f${k}` && call.function.arguments === '01234')).toBe(true);
  });

  it(
    `ends text past ${MAX_TEXT_LENGTH} characters with a ParseError, never a RangeError`,
    async () => {
      const eighth = 'x'.repeat(MAX_TEXT_LENGTH / 8);
      const chunks = [
        ...Array.from({ length: 4 }, () => choiceChunk(0, { content: eighth })),
        ...Array.from({ length: 2 }, () => choiceChunk(0, { reasoning_content: eighth })),
        choiceChunk(1, { content: eighth }),
        choiceChunk(0, { tool_calls: [{ index: 0, id: 'c', function: { name: 'f', arguments: eighth } }] }),
        choiceChunk(0, { content: 'one too many' }),
      ];
      const { snapshots, error } = await foldAll(chunks);
      expect(error).toBeInstanceOf(ParseError);
      expect((error as Error).message).toContain(`more than ${MAX_TEXT_LENGTH} characters`);
      expect(snapshots).toHaveLength(chunks.length - 1);
      expect(snapshots.at(-1)!.content).toHaveLength(MAX_TEXT_LENGTH / 2);
    },
    HANG_GUARD_MS,
  );

  it('ends tool arguments sent as an object nested 6,000 deep with a ParseError, never a RangeError', async () => {
    const deep = JSON.parse(`${'{"a":'.repeat(6000)}1${'}'.repeat(6000)}`) as object;
    const { snapshots, error } = await foldAll([
      choiceChunk(0, { content: 'Calling.' }),
      choiceChunk(0, { tool_calls: [{ index: 0, id: 'call_deep', function: { name: 'f', arguments: deep } }] }),
    ]);
    expect(snapshots).toHaveLength(1);
    expect(error).toBeInstanceOf(ParseError);
    expect(error).toMatchObject({ name: 'ParseError', retryable: false });
  });

  it('reports the cap in a message that says what to do about rising choice indices', async () => {
    const chunks = Array.from({ length: MAX_CHOICES + 1 }, (_, k) => choiceChunk(k, { content: `${k} ` }));
    await expect(lastValueFrom(from(chunks).pipe(accumulateContent()))).rejects.toThrow(/new choice index/);
  });
});
