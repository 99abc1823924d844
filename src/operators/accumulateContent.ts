import { defer, map, type OperatorFunction } from 'rxjs';
import { foldChunk, newFoldState, type FoldState } from '../fold/foldState.js';
import { streamStartOf, type StreamStart } from '../streamStart.js';
import type { ChatCompletionChunk, ChatCompletionSnapshot, DONE } from '../types.js';

/**
 * What `accumulateContent()` turns into when its source still emits the `DONE`
 * sentinel: not an operator, so `pipe` refuses it with a compile error that
 * names the missing step. Pipe `untilDone()` before `accumulateContent()`.
 */
export interface UseUntilDoneBeforeAccumulateContent {
  readonly 'pipe untilDone() before accumulateContent()': never;
}


/**
 * Folds chunks into a snapshot of the whole message so far, emitting a new
 * snapshot after every chunk: text, reasoning, refusal and tool calls of each
 * choice, the finish reason and usage. Snapshots are typed read-only and
 * never change after they are emitted: unchanged parts are shared between
 * them, and what every stream shares (the empty arrays) is frozen.
 *
 * ```text
 * chunks:     --{Hel}--{lo}--{stop}--
 * snapshots:  --"Hel"--"Hello"--"Hello" (finishReason "stop")--
 * ```
 *
 * Restarts are explicit. A source marks the first chunk of each subscription
 * (`markStreamStart`): `{ resumed: false }` (a fresh request) makes the fold
 * start over, `{ resumed: true }` (the rest of a response an earlier
 * subscription was streaming) makes it go on. Chunk ids never restart
 * anything: the snapshot's `id` is the first non-empty id. So both orders
 * give the exact text:
 *
 * ```text
 * upstream:   --{Hel}--{lo}--X  (retry)  --{Hel}*--{lo}--{!}--|     * = { resumed: false }
 * snapshots:  --"Hel"--"Hello"-----------"Hel"-----"Hello"--"Hello!"--|
 * ```
 *
 * When `accumulateContent` sits before `retryWithBackoff`, a retry
 * resubscribes it; a resumed first chunk then continues the snapshot that the
 * last subscription reached for the same `stream` token (kept per
 * `accumulateContent()` call in a `WeakMap`, only once a token is used).
 * Subscribe one subscriber at a time to a resumable pipeline. An operator
 * that maps chunks to new objects before `accumulateContent` drops the mark.
 *
 * Each snapshot also carries what its chunk appended to the texts, under a
 * `Symbol.for` key that `JSON.stringify` and `Object.keys` do not see, so an
 * operator after this one (`parseJsonAsItStreams`) follows the texts without
 * reading the whole strings, in any pipeline: behind `filter`, `share`,
 * `observeOn` or any asynchronous step (see `fold/foldAppended.ts`).
 *
 * The source must not emit `DONE`: pipe `untilDone()` first. Leaving it out
 * is a compile error naming `UseUntilDoneBeforeAccumulateContent`.
 *
 * Tool calls merge by `index`; indices may start at 1 or skip. A fragment
 * without `index` opens a new call when it brings a new `id` and continues the
 * last call otherwise. Mistral's array-valued `delta.content` is folded: text
 * parts into `content`, thinking parts into `reasoning`. Hostile streams
 * (more than 1024 tool calls in a choice, more than 128 choices, more than
 * 64 Mi characters of text, arguments that cannot be written as JSON) end in
 * a `ParseError`.
 *
 * @example
 * ```ts
 * fromChatCompletion(options).pipe(untilDone(), accumulateContent(), retryWithBackoff())
 *   .subscribe(({ content, toolCalls }) => render(content, toolCalls));
 * ```
 */
export function accumulateContent<
  In extends ChatCompletionChunk | typeof DONE = ChatCompletionChunk,
>(): typeof DONE extends In
  ? UseUntilDoneBeforeAccumulateContent
  : OperatorFunction<In, ChatCompletionSnapshot>;
export function accumulateContent(): OperatorFunction<ChatCompletionChunk, ChatCompletionSnapshot> | UseUntilDoneBeforeAccumulateContent {
  /** The fold of each resumable response, by its `stream` token; created at the first token. */
  let byStream: WeakMap<object, FoldState> | undefined;
  const stateAtStart = (current: FoldState, start: StreamStart): FoldState => {
    const token = typeof start.stream === 'object' && start.stream !== null ? start.stream : undefined;
    let state = current;
    if (!start.resumed) state = newFoldState();
    else if (current.chunks === 0 && token !== undefined) state = byStream?.get(token) ?? current;
    if (token !== undefined) (byStream ??= new WeakMap()).set(token, state);
    return state;
  };
  return (source) =>
    defer(() => {
      let state = newFoldState();
      return source.pipe(
        map((chunk) => {
          const start = streamStartOf(chunk);
          if (start !== undefined) state = stateAtStart(state, start);
          return foldChunk(state, chunk);
        }),
      );
    });
}
