import { Observable, takeWhile, type OperatorFunction } from 'rxjs';
import { StreamInterruptedError } from '../errors.js';
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
  // `takeWhile` and a flag rather than `concatWith(throwError(...))`: this
  // runs for every event of every stream, and `concatWith` is two more hops
  // per value.
  return (source) =>
    new Observable<T>((subscriber) => {
      let done = false;
      const beforeDone = (value: T | typeof DONE): value is T => {
        if (value !== DONE) return true;
        done = true;
        return false;
      };
      return source.pipe(takeWhile(beforeDone)).subscribe({
        next: (value) => subscriber.next(value),
        error: (error: unknown) => subscriber.error(error),
        complete: () => (done ? subscriber.complete() : subscriber.error(new StreamInterruptedError())),
      });
    });
}
