import { Observable, type OperatorFunction } from 'rxjs';
import { markStreamStart } from '../../streamStart.js';

/** What a `mapFresh` projection returns for a value to leave out. */
export const SKIP: unique symbol = Symbol('skip');

/**
 * `map` and `filter` and `markFirstFresh` in one step, for the hot path of a
 * source (one subscriber per value instead of three): projects each value,
 * leaves out those projected to `SKIP`, and marks the first object of each
 * subscription with `markStreamStart(value, { resumed: false })`. A
 * projection that throws errors the stream.
 *
 * ```text
 * source:  -a-b-c-|        project: b → SKIP
 * result:  -A---c-|        (A: a projected and marked { resumed: false })
 * ```
 *
 * @example
 * ```ts
 * events.pipe(mapFresh((event) => (event.data === '' ? SKIP : JSON.parse(event.data))));
 * ```
 */
export function mapFresh<T, R>(project: (value: T) => R | typeof SKIP): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      let marked = false;
      return source.subscribe({
        next: (value) => {
          let result: R | typeof SKIP;
          try {
            result = project(value);
          } catch (error) {
            subscriber.error(error);
            return;
          }
          if (result === SKIP) return;
          if (!marked && typeof result === 'object' && result !== null) {
            marked = true;
            markStreamStart(result, { resumed: false });
          }
          subscriber.next(result);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
