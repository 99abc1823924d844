import { defer, map, type MonoTypeOperatorFunction } from 'rxjs';
import { freshMarker } from './freshMarker.js';

/**
 * Marks the first object value of each subscription as the start of a fresh
 * response (`markStreamStart(value, { resumed: false })`), so that
 * `accumulateContent` starts over after a retry. Values that are not objects
 * (`DONE`) pass unmarked and leave the mark for the next object.
 *
 * ```text
 * source:  -a-b-c-|
 * result:  -A-b-c-|     (A: a marked { resumed: false })
 * ```
 *
 * @example
 * ```ts
 * serverSentEvents(request).pipe(map(toChunk), markFirstFresh());
 * ```
 */
export function markFirstFresh<T>(): MonoTypeOperatorFunction<T> {
  return (source) => defer(() => source.pipe(map(freshMarker<T>())));
}
