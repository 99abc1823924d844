/**
 * A stand-in for `accumulateContent` with no checks, for the benchmarks
 * (`npm run bench:decompose`, and `npm run bench`'s concurrent streams):
 * `fromChatCompletion → untilDone`, then one RxJS `map` that keeps the text
 * as FLOOR does and emits, for each chunk, the objects a snapshot is made of
 * (the snapshot, its choice, the choices array, the appended mark; for tool
 * calls also the calls array, the call and its function). It trusts the
 * chunk's shape: no index, limit or type checks, no restarts, no frozen
 * parts. What any operator emitting accumulateContent's snapshots through
 * RxJS costs at the least.
 */
import { map } from 'rxjs';
import { fromChatCompletion, untilDone } from 'rxjs-llm-stream';
import type { Contender } from './contenders.js';

const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'bench' }] };

/** Where the stand-in fold puts its appended mark (the library uses a private field). */
const APPENDED = Symbol('appended');
const NO_CALLS: readonly never[] = Object.freeze([]);

interface StandInSnapshot {
  content: string;
  toolCalls: readonly { function: { arguments: string } }[];
  [APPENDED]?: object;
}

export const foldWithNoChecks: Contender = (fetch, baseURL) =>
  new Promise((resolve, reject) => {
    const fold = {};
    let chunks = 0;
    let text = '';
    let args = '';
    let last: StandInSnapshot | undefined;
    fromChatCompletion({ baseURL, fetch, body })
      .pipe(
        untilDone(),
        map((chunk): StandInSnapshot => {
          const delta = chunk.choices[0]?.delta;
          const added = delta?.content ?? '';
          text += added;
          let addedArgs = '';
          for (const call of delta?.tool_calls ?? []) addedArgs += argumentsOf(call);
          args += addedArgs;
          const toolCalls = args === '' ? NO_CALLS : [{ index: 0, id: 'call_bench', type: 'function', function: { name: 'write_report', arguments: args } }];
          const choice = { index: 0, content: text, reasoning: '', refusal: '', toolCalls, finishReason: chunk.choices[0]?.finish_reason ?? null };
          const snapshot = { id: chunk.id, model: chunk.model, content: text, reasoning: '', refusal: '', toolCalls, finishReason: choice.finishReason, choices: [choice] } as StandInSnapshot;
          snapshot[APPENDED] = { fold, chunk: ++chunks, content: added, reasoning: '', refusal: '', toolCalls: addedArgs === '' ? NO_CALLS : [addedArgs] };
          return snapshot;
        }),
      )
      .subscribe({
        next: (snapshot) => (last = snapshot),
        error: reject,
        complete: () => resolve({ text: last?.content ?? '', args: last?.toolCalls[0]?.function.arguments ?? '', firstChunkMs: 0 }),
      });
  });

/** A fragment's arguments as FLOOR reads them (the generator sends strings). */
export function argumentsOf(call: { function?: { arguments?: unknown } }): string {
  const value = call.function?.arguments;
  return typeof value === 'string' ? value : '';
}
