import { Observable, asyncScheduler, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { startIdleTimer } from '../timing/idleTimer.js';

export interface IdleTimeoutOptions {
  /** The clock and timers. Default: `asyncScheduler`; a `TestScheduler` in marble tests. */
  scheduler?: SchedulerLike;
  /** The error to fail with, made when the timeout strikes. */
  error: () => unknown;
}

/**
 * Fails with `options.error()` (and unsubscribes upstream, which aborts the
 * request) when no value has come for `timeoutMs`, counted from the
 * subscription and after every value. `0` or `Infinity` turns it off.
 * A value costs one clock read (see `startIdleTimer`); a late timer earns at
 * most one grace per silence, so the error comes no later than
 * 1.5 × `timeoutMs` after the last value, or at once when the timer itself
 * fires after that.
 *
 * ```text
 * source:  -a-b----------------      (timeout 5)
 * result:  -a-b----#                 (#: options.error())
 * ```
 *
 * @example
 * ```ts
 * fetchBytes(request, options).pipe(
 *   idleTimeout(60_000, { error: () => new IdleTimeoutError(60_000, 'mySource') }),
 * );
 * ```
 */
export function idleTimeout<T>(timeoutMs: number, options: IdleTimeoutOptions): MonoTypeOperatorFunction<T> {
  const { scheduler = asyncScheduler, error } = options;
  if (!(timeoutMs > 0 && timeoutMs < Infinity)) return (source) => source;
  return (source) =>
    new Observable<T>((subscriber) => {
      const timer = startIdleTimer(timeoutMs, () => subscriber.error(error()), scheduler);
      const upstream = source.subscribe({
        next: (value) => {
          timer.touch();
          subscriber.next(value);
        },
        error: (failure: unknown) => subscriber.error(failure),
        complete: () => subscriber.complete(),
      });
      return () => {
        timer.stop();
        upstream.unsubscribe();
      };
    });
}
