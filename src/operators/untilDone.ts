import { concatWith, takeWhile, throwError, type OperatorFunction } from 'rxjs';
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
  // A source that completes before DONE is followed by the error; DONE
  // completes before it is reached, and unsubscribes the source at once, so a
  // synchronous source stops there too.
  return (source) => source.pipe(concatWith(throwError(() => new StreamInterruptedError())), takeWhile(isNotDone));
}

function isNotDone<T>(value: T | typeof DONE): value is T {
  return value !== DONE;
}
