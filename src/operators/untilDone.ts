import { Observable, type OperatorFunction } from 'rxjs';
import { StreamInterruptedError } from '../errors.js';
import { subscribeLinked } from '../internal/linkedSubscriber.js';
import { DONE } from '../types.js';

/**
 * Completes at the `DONE` sentinel, unsubscribing upstream (which aborts the
 * request), and passes every other value through. If the source completes
 * before `DONE`, the answer was cut off: it errors with the retryable
 * `StreamInterruptedError`. Errors pass through.
 *
 * ```text
 * source:  --a--b--D--c--|
 * result:  --a--b--|
 * source:  --a--b--|
 * result:  --a--b--#   (StreamInterruptedError)
 * ```
 *
 * @example
 * ```ts
 * fromChatCompletion(options).pipe(untilDone(), accumulateContent(), retryWithBackoff());
 * ```
 */
export function untilDone<T>(): OperatorFunction<T | typeof DONE, T> {
  // One linked subscriber rather than `takeWhile` plus a subscriber for the
  // missing-DONE check (or `concatWith(throwError(...))`): this runs for
  // every event of every stream, and each subscriber is one more call chain
  // per value. Completing at DONE unsubscribes the source at once, so a
  // synchronous source stops there too.
  return (source) =>
    new Observable<T>((subscriber) =>
      subscribeLinked(source, subscriber, {
        next: (value) => (value === DONE ? subscriber.complete() : subscriber.next(value)),
        error: (error) => subscriber.error(error),
        complete: () => subscriber.error(new StreamInterruptedError()),
      }),
    );
}
