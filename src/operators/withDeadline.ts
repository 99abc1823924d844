import { identity, mergeMap, takeUntil, throwError, timer, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { DeadlineExceededError } from '../errors.js';

/** Options of `withDeadline`; every field is optional. */
export interface WithDeadlineOptions {
  /** Where the deadline's timer runs. Default: RxJS's `asyncScheduler`; tests pass a `TestScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

const NAME = 'withDeadline';

/** The longest delay a JavaScript timer can hold (about 24.8 days); longer ones fire at once. */
const MAX_TIMER_DELAY = 2_147_483_647;

/**
 * An overall deadline: errors with `DeadlineExceededError` when the source has
 * not COMPLETED within `ms` of subscription, and unsubscribes from it, which
 * aborts the request. Values pass through untouched until then. Placed after
 * `retryWithBackoff`, it bounds the whole answer, every retry and every wait
 * between them included; placed before it, it bounds each attempt (and, not
 * being retryable, ends the retrying).
 *
 * ```text
 * source:  --a--b--c--|          (completes in time)
 * result:  --a--b--c--|
 *
 * source:  --a--b--c--d--e--|    (withDeadline(7): still going at frame 7)
 * result:  --a--b-#              (DeadlineExceededError at frame 7)
 * subs:    ^------!              (the request is aborted)
 * ```
 *
 * Why not RxJS's own operators: `timeout({ first: ms })` only bounds the time
 * to the FIRST value, so an answer that starts in time and then takes minutes
 * is let through; `timeout({ each: ms })` is an idle timeout (the sources
 * already have one). `takeUntil(timer(ms))` does stop the request, but it
 * COMPLETES: the subscriber gets a truncated answer (`finishReason: null`)
 * through the same door as a whole one. `withDeadline` errors instead, with a
 * typed error that says what happened.
 *
 * `ms` must be a number above 0 and at most 2147483647 (the longest timer
 * JavaScript holds); `Infinity` means no deadline. Anything else throws a
 * `RangeError` (`TypeError` for a non-number) when the operator is created.
 *
 * @example
 * ```ts
 * fromChatCompletion(options).pipe(
 *   untilDone(),
 *   accumulateContent(),
 *   retryWithBackoff({ maxRetries: 3 }),
 *   withDeadline(120_000), // the whole answer, retries included, within two minutes
 * );
 * ```
 */
export function withDeadline<T>(ms: number, options: WithDeadlineOptions = {}): MonoTypeOperatorFunction<T> {
  if (typeof ms !== 'number') throw new TypeError(`${NAME}: ms must be a number of milliseconds, got ${ms === null ? 'null' : typeof ms}.`);
  if (!(ms > 0) || (ms > MAX_TIMER_DELAY && ms !== Infinity)) {
    throw new RangeError(`${NAME}: ms must be above 0 and at most ${MAX_TIMER_DELAY} (Infinity for no deadline), got ${ms}.`);
  }
  if (ms === Infinity) return identity;
  const { scheduler } = options;
  // `takeUntil` forwards its notifier's error: at the deadline the result errors and the source is unsubscribed.
  // When the source completes first, `takeUntil` completes and drops the timer.
  return (source) =>
    source.pipe(
      takeUntil(
        (scheduler ? timer(ms, scheduler) : timer(ms)).pipe(mergeMap(() => throwError(() => new DeadlineExceededError(ms, NAME)))),
      ),
    );
}
