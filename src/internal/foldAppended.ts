/**
 * What one chunk appended to a snapshot, handed along with the snapshot. An
 * operator after `accumulateContent` that reads the text as it grows (the
 * partial JSON parser) takes the new characters from here instead of slicing
 * them out of the snapshot's strings: those are built by `+=`, which V8 keeps
 * as a rope, and reading any part of a rope copies the whole string first. So
 * a consumer of the mark costs in proportion to the new text, not the document.
 *
 * The mark is not stored on the snapshot. While `accumulateContent` hands a
 * snapshot downstream, one shared slot names the fold that made it (and the
 * fold knows its last snapshot); `appendedOf(snapshot)` asks the slot, and
 * works out the mark only then. So an operator that reads it during the
 * delivery (synchronously, as `map` does, also behind `filter`, `tap` or
 * `share`) gets it, and a pipeline that never reads it pays one read and two
 * writes per chunk. After the delivery, or behind an asynchronous step
 * (`observeOn`, `auditTime`), there is no mark and the consumer reads the
 * whole strings. (A non-enumerable property per snapshot, the first design,
 * cost an `Object.defineProperty` per chunk: about a fifth of the whole
 * pipeline's time on a stream of small chunks.)
 *
 * The slot lives on `globalThis` under a `Symbol.for` key, so the ESM and CJS
 * copies of the package share it; a mark of another shape (another version
 * of the package) counts as none.
 */
import type { ChatCompletionSnapshot } from '../types.js';

/** What the chunk that made a snapshot appended to the top-level (choice 0) texts of the snapshot before it. */
export interface Appended {
  /**
   * The fold that made the snapshot: the same object for every snapshot of
   * one response (also across a resumption), a new one when the fold starts
   * over.
   */
  readonly fold: object;
  /**
   * The count of chunks this fold has folded, this one included. The texts
   * below extend the snapshot of the same `fold` whose `chunk` is one less,
   * and nothing else: a consumer that did not see that one (a `filter` or
   * `auditTime` in between, a restart) must read the whole strings instead.
   */
  readonly chunk: number;
  readonly content: string;
  readonly reasoning: string;
  readonly refusal: string;
  /**
   * By position in `toolCalls`: what each call's `arguments` gained (`''` when
   * nothing). `undefined` when a call opened before calls already open
   * (an index lower than theirs), so the positions moved: read the whole
   * strings then.
   */
  readonly toolCalls: readonly string[] | undefined;
}

/** What a fold puts in the slot while it delivers a snapshot. */
export interface AppendedSource {
  /** The snapshot being delivered: the fold's last. */
  readonly delivered: object | undefined;
  /** Works out what the chunk that made `delivered` appended. */
  readonly appended: () => Appended | undefined;
}

/** The key of the slot on `globalThis`. Shared by every copy of the package. */
export const APPENDED: unique symbol = Symbol.for('rxjs-llm-stream.appendedSlot') as never;

const slot: { current: AppendedSource | undefined } = sharedSlot();

function sharedSlot(): { current: AppendedSource | undefined } {
  const holder = globalThis as { [APPENDED]?: { current: AppendedSource | undefined } };
  const existing = holder[APPENDED];
  if (typeof existing === 'object' && existing !== null) return existing;
  const created = { current: undefined };
  Object.defineProperty(holder, APPENDED, { value: created });
  return created;
}

/**
 * Hands `snapshot` (the last of `source`) to `subscriber` with the slot
 * naming `source`, which works the mark out when someone asks. The slot is
 * put back as it was afterwards, so a delivery inside a delivery (a fold
 * feeding another) nests. One read and two writes per snapshot.
 */
export function deliverWithAppended(subscriber: { next(value: ChatCompletionSnapshot): void }, snapshot: ChatCompletionSnapshot, source: AppendedSource): void {
  const outer = slot.current;
  slot.current = source;
  try {
    subscriber.next(snapshot);
  } finally {
    slot.current = outer;
  }
}

/**
 * The `Appended` of `snapshot` while `accumulateContent` delivers it;
 * otherwise `undefined`, as for a snapshot that did not come from
 * `accumulateContent` (or a mark of another shape).
 */
export function appendedOf(snapshot: unknown): Appended | undefined {
  const source = slot.current;
  if (source === undefined || typeof snapshot !== 'object' || snapshot === null || source.delivered !== snapshot || typeof source.appended !== 'function') return undefined;
  const mark = source.appended() as Partial<Appended> | undefined;
  if (typeof mark !== 'object' || mark === null) return undefined;
  const { fold, chunk, content, reasoning, refusal, toolCalls } = mark;
  const valid =
    typeof fold === 'object' &&
    fold !== null &&
    typeof chunk === 'number' &&
    typeof content === 'string' &&
    typeof reasoning === 'string' &&
    typeof refusal === 'string' &&
    (toolCalls === undefined || Array.isArray(toolCalls));
  return valid ? (mark as Appended) : undefined;
}
