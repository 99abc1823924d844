/**
 * The explicit restart/resume signal. A source marks the first value that each
 * subscription emits with where that value stands: the start of a fresh
 * response (a new request: whatever was folded before must be dropped), or the
 * continuation of a response whose earlier part an earlier subscription
 * delivered (a resumed Responses API stream, an SSE reconnect with
 * `Last-Event-ID`: the fold goes on). `accumulateContent` reads the mark;
 * nothing is ever inferred from chunk ids.
 *
 * The mark is a non-enumerable property under a `Symbol.for` key, so the ESM
 * and CJS copies of the package agree on it, `JSON.stringify` and deep
 * equality do not see it, and a pipeline that never looks at it pays nothing.
 * An operator that replaces the values (a `map` to new objects) drops the
 * mark: put such operators after `accumulateContent`.
 */

/** Where a subscription's first value stands. */
export interface StreamStart {
  /**
   * `false`: a fresh response; a fold that already holds text starts over.
   * `true`: this continues the response an earlier subscription was
   * streaming; a fold continues where it was.
   */
  readonly resumed: boolean;
  /**
   * Identifies one response across subscriptions (any object, compared by
   * identity), so that a fold that was itself resubscribed (placed before
   * `retryWithBackoff`) can find where it was. Sources that can resume set it.
   */
  readonly stream?: object;
}

/**
 * The key under which a value carries its `StreamStart`. Shared by every copy of the package.
 * Read it with `streamStartOf`, set it with `markStreamStart`; the key itself is for copying a mark.
 *
 * @example
 * ```ts
 * const copy = { ...chunk, [STREAM_START]: streamStartOf(chunk) }; // keep the restart/resume mark on a mapped value
 * ```
 */
export const STREAM_START: unique symbol = Symbol.for('rxjs-llm-stream.streamStart') as never;

/**
 * Marks `value` as the first value of a subscription and returns it. For
 * authors of sources; primitives cannot carry a mark and are returned as
 * they are.
 *
 * @example
 * ```ts
 * const first = markStreamStart({ id: 'c1', choices: [] }, { resumed: false });
 * ```
 */
export function markStreamStart<T>(value: T, start: StreamStart): T {
  if (typeof value === 'object' && value !== null) {
    Object.defineProperty(value, STREAM_START, { value: start, enumerable: false, configurable: true });
  }
  return value;
}

/**
 * The `StreamStart` a value carries, or `undefined` for a value that does not
 * start a subscription.
 *
 * @example
 * ```ts
 * const start = streamStartOf(chunk);
 * if (start && !start.resumed) clearScreen();
 * ```
 */
export function streamStartOf(value: unknown): StreamStart | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  return (value as { [STREAM_START]?: StreamStart })[STREAM_START];
}
