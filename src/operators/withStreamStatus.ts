import {
  EMPTY,
  Subject,
  catchError,
  concatWith,
  defer,
  map,
  merge,
  of,
  startWith,
  take,
  takeWhile,
  type Observable,
  type OperatorFunction,
} from 'rxjs';
import { retryWithBackoff, type RetryWithBackoffOptions } from './retryWithBackoff.js';

/** Where a stream stands, for a UI to show. */
export type StreamStatus = 'connecting' | 'streaming' | 'retrying' | 'done' | 'failed' | 'stopped';

/** One state of a stream: what to render, and why. */
export interface StreamState<T> {
  status: StreamStatus;
  /** The latest value (snapshot); kept while retrying, replaced, never appended to, by the next attempt's values. */
  snapshot: T | undefined;
  /** The attempt under way or last made: 1 for the first request. */
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
 * ```
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
  const { retry = {}, errorsAsState = false, stop } = options;
  const maxRetries = retry === false ? 0 : retry.maxRetries ?? 10;
  const retrying = retry === false ? undefined : retry;
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
      const waits = new Subject<StreamState<T>>();

      const attempt = defer(() =>
        source.pipe(
          map((snapshot) => update({ status: 'streaming', snapshot, error: undefined })),
          startWith(update({ status: 'connecting', attempt: state.attempt + 1, retryInMs: undefined, error: undefined })),
        ),
      );
      const attempts = retrying
        ? attempt.pipe(
            retryWithBackoff<StreamState<T>>({
              ...retrying,
              onRetry: (event) => {
                retrying.onRetry?.(event);
                waits.next(update({ status: 'retrying', retryInMs: event.delay, error: event.error }));
              },
            }),
          )
        : attempt;
      const finished = attempts.pipe(
        concatWith(defer(() => of(update({ status: 'done', error: undefined })))),
        errorsAsState ? catchError((error: unknown) => of(update({ status: 'failed', retryInMs: undefined, error }))) : (s) => s,
      );
      const stopped = stop ? stop.pipe(take(1), map(() => update({ status: 'stopped', retryInMs: undefined }))) : EMPTY;
      return merge(waits, finished, stopped).pipe(takeWhile((current) => !FINAL.has(current.status), true));
    });
}
