import {
  EMPTY,
  Subject,
  catchError,
  concatWith,
  defer,
  isObservable,
  map,
  merge,
  of,
  take,
  takeWhile,
  type Observable,
  type OperatorFunction,
} from 'rxjs';
import { streamStartOf } from '../streamStart.js';
import { assertObject } from '../internal/validate.js';
import { retryWithBackoff, type RetryWithBackoffOptions } from './retryWithBackoff.js';

/**
 * Where a stream stands, for a UI to show. `resuming` marks the first value of
 * an attempt that continues a response instead of starting it over (the value
 * carries `streamStartOf(value)?.resumed === true`): the text so far stays;
 * the values after it are `streaming` again. It shows when the values that
 * reach `withStreamStatus` carry the source's mark (the chunks themselves, or
 * snapshots from a fold that passes the mark on).
 */
export type StreamStatus = 'connecting' | 'streaming' | 'resuming' | 'retrying' | 'done' | 'failed' | 'stopped';

/** One state of a stream: what to render, and why. */
export interface StreamState<T> {
  status: StreamStatus;
  /** The latest value (snapshot); kept while retrying, replaced, never appended to, by the next attempt's values. */
  snapshot: T | undefined;
  /**
   * The attempt under way or last made: 1 for the first request, never above
   * `maxAttempts`. With `resetOnSuccess`, a value restarts the count, as it
   * restarts the retries.
   */
  attempt: number;
  /** `maxRetries + 1`: for "attempt 2 of 4". */
  maxAttempts: number;
  /** While `retrying`: the milliseconds until the next attempt. */
  retryInMs: number | undefined;
  /** While `retrying`: the cause; when `failed`: the final error. */
  error: unknown;
}

/** Options of `withStreamStatus`. */
export interface StreamStatusOptions {
  /** Retry options passed to `retryWithBackoff`, or `false` for no retries. Default: `{}` (its defaults). */
  retry?: RetryWithBackoffOptions | false | undefined;
  /** Emit the final error as a `failed` state and complete, instead of erroring. Default: `false`. */
  errorsAsState?: boolean | undefined;
  /** When this emits, the stream is stopped: the request is aborted, a `stopped` state keeps the text so far, and it completes. */
  stop?: Observable<unknown> | undefined;
}

const FINAL: ReadonlySet<StreamStatus> = new Set(['done', 'failed', 'stopped']);

/**
 * Turns a pipeline of snapshots into a stream of UI states
 * `{ status, snapshot, attempt, maxAttempts, retryInMs, error }`, retrying
 * with `retryWithBackoff` on the way, so a UI can show "connecting",
 * "retrying in 2 s (attempt 2 of 4)", the text, "done", the error, or
 * "stopped" without wiring callbacks by hand. Put it last, in place of
 * `retryWithBackoff`.
 *
 * ```text
 * attempts:  -a-#          then  -b-c-|        (retry after 5 ms)
 * result:    Ca-R 5ms      Cb-c-(D|)
 *            C connecting, a/b/c streaming, R retrying (retryInMs 5), D done
 *
 * attempts:  -a-#          then  -b-c-|        (b marked { resumed: true })
 * result:    Ca-R 5ms      Cu-c-(D|)           u resuming: the text goes on
 * ```
 *
 * The retries apply to the source alone; the states are emitted beside it, so
 * `resetOnSuccess` counts only the source's values and `maxRetries` holds.
 * Options are checked when the operator is created (`TypeError`,
 * `RangeError`), before any subscription.
 *
 * @example
 * ```ts
 * const stop$ = new Subject<void>();
 * const state = toSignal(
 *   fromChatCompletion(options).pipe(
 *     untilDone(),
 *     accumulateContent(),
 *     withStreamStatus({ retry: { maxRetries: 3 }, errorsAsState: true, stop: stop$ }),
 *   ),
 * );
 * // template: {{ state()?.snapshot?.content }} · {{ state()?.status }}
 * ```
 */
export function withStreamStatus<T>(options: StreamStatusOptions = {}): OperatorFunction<T, StreamState<T>> {
  assertObject('withStreamStatus: options', options);
  const { retry = {}, errorsAsState = false, stop } = options;
  if (retry !== false) {
    assertObject('withStreamStatus: retry', retry);
    retryWithBackoff(retry); // checks the retry options now, with retryWithBackoff's own errors
  }
  if (typeof errorsAsState !== 'boolean') throw new TypeError(`withStreamStatus: errorsAsState must be a boolean, got ${typeof errorsAsState}.`);
  if (stop !== undefined && !isObservable(stop)) throw new TypeError('withStreamStatus: stop must be an Observable.');
  const maxRetries = retry === false ? 0 : retry.maxRetries ?? 10;

  return (source) =>
    defer(() => {
      let state: StreamState<T> = {
        status: 'connecting',
        snapshot: undefined,
        attempt: 0,
        maxAttempts: maxRetries + 1,
        retryInMs: undefined,
        error: undefined,
      };
      const update = (change: Partial<StreamState<T>>) => (state = { ...state, ...change });
      /** `connecting` and `retrying`: emitted beside the retried source, never through it. */
      const transitions = new Subject<StreamState<T>>();
      let firstOfAttempt = false;
      /** 1, then the retry's number + 1: with `resetOnSuccess` it starts again at 2 after a value, never above `maxAttempts`. */
      let nextAttempt = 1;

      const attempt = defer(() => {
        firstOfAttempt = true;
        transitions.next(update({ status: 'connecting', attempt: nextAttempt, retryInMs: undefined, error: undefined }));
        return source;
      });
      const attempts =
        retry === false
          ? attempt
          : attempt.pipe(
              retryWithBackoff<T>({
                ...retry,
                onRetry: (event) => {
                  retry.onRetry?.(event);
                  nextAttempt = event.attempt + 1;
                  transitions.next(update({ status: 'retrying', retryInMs: event.delay, error: event.error }));
                },
              }),
            );
      const finished = attempts.pipe(
        map((snapshot) => {
          const resumed = firstOfAttempt && streamStartOf(snapshot)?.resumed === true;
          firstOfAttempt = false;
          return update({ status: resumed ? 'resuming' : 'streaming', snapshot, error: undefined });
        }),
        concatWith(defer(() => of(update({ status: 'done', error: undefined })))),
        errorsAsState ? catchError((error: unknown) => of(update({ status: 'failed', retryInMs: undefined, error }))) : (s) => s,
      );
      const stopped = stop ? stop.pipe(take(1), map(() => update({ status: 'stopped', retryInMs: undefined }))) : EMPTY;
      return merge(transitions, finished, stopped).pipe(takeWhile((current) => !FINAL.has(current.status), true));
    });
}
