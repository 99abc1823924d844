/**
 * Durable Streams offsets, as a reader may use them (internal): the protocol
 * makes them opaque but lexicographically sortable, and strictly increasing
 * as data is appended, so a reader can tell an answer that goes back.
 */
import { InconsistentOffsetError } from '../errors.js';
import { excerpt } from '../transport/index.js';

/** The sentinel for the start of a stream: below every offset a server hands out. */
const START = '-1';
/** The sentinel for the tail: it names no position a reader could compare with. */
const TAIL = 'now';

/**
 * The order of two offsets of one stream: negative when `a` comes first, 0
 * when they are the same, positive when `a` comes later. Lexicographic by
 * code point (the order of their UTF-8 bytes); `-1` comes before every other.
 */
export function compareOffsets(a: string, b: string): number {
  if (a === b) return 0;
  if (a === START) return -1;
  if (b === START) return 1;
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  for (;;) {
    const x = left.next();
    const y = right.next();
    if (x.done || y.done) return (x.done ? 0 : 1) - (y.done ? 0 : 1);
    const order = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (order !== 0) return order;
  }
}

/**
 * Throws `InconsistentOffsetError` when an answer to a read at `offset` says
 * `next` and that goes back (below `offset`), or stays at `offset` although
 * the answer holds data (`withData`): offsets are strictly increasing, so data
 * always moves them. A read at `now` (the tail, whatever it is) takes any.
 */
export function assertOffsetMoves(source: string, offset: string, next: string, withData: boolean, secrets: readonly string[]): void {
  if (offset === TAIL) return;
  const order = compareOffsets(next, offset);
  if (order > 0 || (order === 0 && !withData)) return;
  // Redacted, stripped of controls, on one line (an offset holds no whitespace; a forged one would start a log line).
  const [from, to] = [offset, next].map((text) => excerpt(text, secrets).replace(/\s+/g, ' ')) as [string, string];
  const what = order < 0 ? `next offset ${to}, below it` : `data and next offset ${to}, the same one (data always moves the offset)`;
  throw new InconsistentOffsetError(
    `${source}: the server answered a read at offset ${from} with ${what}. Nothing of the answer was used; a retry reads again from ${from}.`,
    from,
    to,
  );
}
