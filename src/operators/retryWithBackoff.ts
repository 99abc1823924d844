import { asyncScheduler, defer, finalize, Observable, retry, throwError, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { isRetryable } from '../errors.js';
import { backoffDelay, type BackoffSettings, type Jitter } from '../timing/backoff.js';
import { longTimer } from '../timing/longTimer.js';
import { currentRetryChain, inRetryChain, newRetryChain } from '../internal/retryChain.js';
import { withRetryAfterNote } from '../timing/retryAfterNote.js';
import { assertDuration, assertFunction } from '../internal/validate.js';

export type { Jitter };

/** What `onRetry` is told before each wait. */
export interface RetryEvent {
  /** 1 for the first retry, 2 for the second, ... */
  attempt: number;
  /** The milliseconds actually waited: jitter and `Retry-After` applied. */
  delay: number;
  /** The error that caused the retry. */
  error: unknown;
}

/** Options of `retryWithBackoff`; every field is optional. */
export interface RetryWithBackoffOptions {
  /** Milliseconds before the first retry. Default: 1000. */
  initialDelay?: number | undefined;
  /** Growth of the delay per retry, 1 or more. Default: 2. */
  multiplier?: number | undefined;
  /** Cap on the computed delay, before jitter. Default: 30000. */
  maxDelay?: number | undefined;
  /** Retries after the first attempt (an integer, or `Infinity`); then the last error is rethrown. Default: 10. */
  maxRetries?: number | undefined;
  /**
   * `'none'`, `'full'` (uniform in [0, d]), `'equal'` (d/2 + uniform [0, d/2]),
   * `'decorrelated'` (min(maxDelay, uniform(initialDelay, 3 × previous delay))),
   * or a number f in [0, 1]: uniform in [d(1-f), d(1+f)]. Default: `'full'`.
   */
  jitter?: Jitter | undefined;
  /** Whether to retry this error; `attempt` is the retry about to be made (1, 2, ...). Default: `isRetryable`. */
  shouldRetry?: ((error: unknown, attempt: number) => boolean) | undefined;
  /** A value from upstream resets the retry count (and the delay). Default: `false`. */
  resetOnSuccess?: boolean | undefined;
  /** A `retryAfterMs` above this ends retrying: the error is rethrown at once. Default: 60000. */
  maxRetryAfter?: number | undefined;
  /** Called before each wait with the delay actually used. */
  onRetry?: ((event: RetryEvent) => void) | undefined;
  /** The jitter's source of randomness, returning [0, 1). Default: `Math.random`. */
  random?: (() => number) | undefined;
    /**
   * The RxJS scheduler every wait goes through. Pass a `TestScheduler` (or
   * run inside `TestScheduler.run`, which patches the default) to drive the
   * delays in virtual time. A delay longer than a platform timer holds
   * (2³¹−1 ms, about 24.8 days) is waited in several timers, never cut short.
   * Default: `asyncScheduler`.
   */
  scheduler?: SchedulerLike | undefined;
}

const NAME = 'retryWithBackoff';

/**
 * On an error that `shouldRetry` accepts, waits and subscribes upstream again:
 * exponential backoff with jitter, at least as long as the server's
 * `Retry-After`, at most `maxRetries` times, then rethrows the last error.
 * Every wait goes through an RxJS scheduler (`scheduler`, default
 * `asyncScheduler`), so `TestScheduler.run` drives it in virtual time, and a
 * wait beyond 2³¹−1 ms (a `Retry-After` of weeks with `maxRetryAfter:
 * Infinity`) lasts its full length instead of firing at once.
 *
 * Each subscription to the result is one **retry chain**: the library's
 * sources keep what a retry carries over (an SSE last event id, a Responses
 * API resume point, a continuation text) in the chain, so the next
 * subscription of the chain resumes while any other subscription starts
 * fresh; a source's reconnection time (an SSE `retry:` field) is waited at
 * least, clamped to `maxRetryAfter`; and when the chain ends (unsubscribed,
 * out of retries, completed) its sources clean up (a background Responses
 * answer is cancelled). See docs/retries.md, "Retry chains".
 *
 * ```text
 * source:   --#                       (retryable error each time)
 * options:  { initialDelay: 10, multiplier: 2, maxRetries: 2, jitter: 'none' }
 * subs:     ^-!
 *                     12ms ^-!
 *                                34ms ^-!
 * result:   --------------------------------------#   (at frame 36)
 * ```
 *
 * @example
 * ```ts
 * fromChatCompletion(options).pipe(
 *   untilDone(),
 *   accumulateContent(),
 *   retryWithBackoff({ maxRetries: 5, onRetry: ({ attempt, delay }) => show(`retry ${attempt} in ${delay} ms`) }),
 * );
 * ```
 *
 * @example
 * ```ts
 * // In a test, outside TestScheduler.run: every wait elapses on flush(), in virtual time.
 * const scheduler = new VirtualTimeScheduler();
 * source.pipe(retryWithBackoff({ initialDelay: 1000, scheduler })).subscribe(render);
 * scheduler.flush();
 * ```
 */
export function retryWithBackoff<T>(options: RetryWithBackoffOptions = {}): MonoTypeOperatorFunction<T> {
  const {
    shouldRetry = isRetryable,
    resetOnSuccess = false,
    onRetry,
    random = Math.random,
    scheduler = asyncScheduler,
  } = options;
  const settings = backoffSettings(options);
  const maxRetries = retryCount(options.maxRetries ?? 10);
  const maxRetryAfter = assertDuration(`${NAME}: maxRetryAfter`, options.maxRetryAfter ?? 60_000, { allowInfinity: true });
  assertFunction(`${NAME}: shouldRetry`, shouldRetry);
  assertFunction(`${NAME}: random`, random);
  if (onRetry !== undefined) assertFunction(`${NAME}: onRetry`, onRetry);
  assertScheduler(scheduler);

  return (source) =>
    defer(() => {
      let previousDelay: number | undefined;
      // One chain per subscription (joined when an enclosing retryWithBackoff is subscribing us): see internal/retryChain.
      const enclosing = currentRetryChain();
      const { chain, end } = enclosing ? { chain: enclosing, end: () => undefined } : newRetryChain();
      const attempt = new Observable<T>((subscriber) => inRetryChain(chain, () => source.subscribe(subscriber)));
      return attempt.pipe(
        retry({
          count: maxRetries,
          resetOnSuccess,
          delay: (error: unknown, attempt: number) => {
            const retryAfter = retryAfterOf(error);
            if (!shouldRetry(error, attempt)) return throwError(() => error);
            if (retryAfter !== undefined && retryAfter > maxRetryAfter) return throwError(() => withRetryAfterNote(error, retryAfter, maxRetryAfter));
            if (attempt === 1) previousDelay = undefined;
            const jittered = backoffDelay(attempt - 1, settings, random, previousDelay);
            previousDelay = jittered;
            // A reconnection delay the source asked for (SSE retry:) is honoured, clamped, never a reason to stop.
            const reconnect = Math.min(chain.reconnectDelay ?? 0, maxRetryAfter);
            const delay = Math.max(jittered, retryAfter ?? 0, reconnect);
            onRetry?.({ attempt, delay, error });
            return longTimer(delay, scheduler);
          },
        }),
        finalize(end),
      );
    });
}

function retryAfterOf(error: unknown): number | undefined {
  const value = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof value === 'number' && value >= 0 ? value : undefined;
}

function assertScheduler(scheduler: unknown): void {
  const { now, schedule } = (scheduler ?? {}) as Partial<SchedulerLike>;
  if (typeof scheduler !== 'object' || typeof now !== 'function' || typeof schedule !== 'function') {
    throw new TypeError(`${NAME}: scheduler must be an RxJS SchedulerLike (with now() and schedule()).`);
  }
}

function retryCount(value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`${NAME}: maxRetries must be a number.`);
  if (value < 0 || (value !== Infinity && !Number.isInteger(value))) {
    throw new RangeError(`${NAME}: maxRetries must be a whole number, 0 or more, or Infinity; got ${value}.`);
  }
  return value;
}

function backoffSettings(options: RetryWithBackoffOptions): BackoffSettings {
  const initialDelay = assertDuration(`${NAME}: initialDelay`, options.initialDelay ?? 1000);
  const maxDelay = assertDuration(`${NAME}: maxDelay`, options.maxDelay ?? 30_000, { allowInfinity: true });
  const multiplier = options.multiplier ?? 2;
  if (typeof multiplier !== 'number' || !(multiplier >= 1) || multiplier === Infinity) {
    throw new RangeError(`${NAME}: multiplier must be a finite number, 1 or more; got ${String(multiplier)}.`);
  }
  const jitter = options.jitter ?? 'full';
  const named = jitter === 'none' || jitter === 'full' || jitter === 'equal' || jitter === 'decorrelated';
  if (!named && !(typeof jitter === 'number' && jitter >= 0 && jitter <= 1)) {
    throw new RangeError(`${NAME}: jitter must be 'none', 'full', 'equal', 'decorrelated' or a number in [0, 1].`);
  }
  return { initialDelay, multiplier, maxDelay, jitter };
}
