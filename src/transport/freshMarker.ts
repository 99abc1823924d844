import { markStreamStart } from '../streamStart.js';

/**
 * A function that passes values through and marks the first object among them
 * as the start of a fresh response (`markStreamStart(value, { resumed: false })`),
 * so that `accumulateContent` starts over after a retry. Values that are not
 * objects (`DONE`, `SKIP`) pass unmarked and leave the mark for the next
 * object. Make one per subscription (inside `defer`), as `markFirstFresh` does.
 *
 * ```text
 * values:  DONE? a b c
 * result:  DONE? A b c     (A: a marked { resumed: false })
 * ```
 *
 * @example
 * ```ts
 * defer(() => {
 *   const markFresh = freshMarker<ChatCompletionEvent | typeof SKIP>();
 *   return serverSentEvents(request, (message) => markFresh(toEvent(message)));
 * });
 * ```
 */
export function freshMarker<T>(): (value: T) => T {
  let marked = false;
  return (value) => {
    if (marked || typeof value !== 'object' || value === null) return value;
    marked = true;
    return markStreamStart(value, { resumed: false });
  };
}
