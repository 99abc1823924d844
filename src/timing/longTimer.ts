import { NEVER, asyncScheduler, concatMap, timer, type Observable, type SchedulerLike } from 'rxjs';

/**
 * The longest delay a platform timer holds: `setTimeout` and `setInterval`
 * keep it in a signed 32-bit integer, and a longer one fires after 1 ms
 * (Node also prints a `TimeoutOverflowWarning`).
 */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * Like RxJS `timer(delay, scheduler)`: emits `0` once after `delay`
 * milliseconds and completes, but never early, however long the delay. A
 * delay beyond `MAX_TIMER_DELAY` is waited in consecutive timers of at most
 * that length, so the total is exact; `Infinity` never emits.
 *
 * ```text
 * longTimer(2 ** 31 + 9):  ------------------(2^31 − 1 ms)----------(10 ms)-(0|)
 * ```
 *
 * @example
 * ```ts
 * longTimer(34 * 24 * 3_600_000).subscribe(() => retry()); // 34 days, not 1 ms
 * ```
 */
export function longTimer(delay: number, scheduler: SchedulerLike = asyncScheduler): Observable<0> {
  if (delay === Infinity) return NEVER;
  if (delay <= MAX_TIMER_DELAY) return timer(delay, scheduler);
  return timer(MAX_TIMER_DELAY, scheduler).pipe(concatMap(() => longTimer(delay - MAX_TIMER_DELAY, scheduler)));
}
