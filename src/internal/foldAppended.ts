/**
 * What one chunk appended to a snapshot, handed along with the snapshot. An
 * operator after `accumulateContent` that reads the text as it grows (the
 * partial JSON parser) takes the new characters from here instead of slicing
 * them out of the snapshot's strings: those are built by `+=`, which V8 keeps
 * as a rope, and reading any part of a rope copies the whole string first. So
 * a consumer of the mark costs in proportion to the new text, not the document.
 *
 * Like the stream-start mark (`src/streamStart.ts`), it is a non-enumerable
 * property under a `Symbol.for` key: the ESM and CJS copies of the package
 * agree on it, `JSON.stringify`, spreading and deep equality do not see it,
 * and a pipeline that never reads it pays one small object and one
 * `Object.defineProperty` per chunk (under a microsecond). Like the
 * snapshot object itself, the mark belongs to one snapshot only, so it is
 * typed read-only but not frozen; the property holding it cannot be changed.
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

/** The key under which a snapshot carries its `Appended`. Shared by every copy of the package. */
export const APPENDED: unique symbol = Symbol.for('rxjs-llm-stream.appended') as never;

/** Attaches `appended` to `snapshot`: non-enumerable, not writable, not configurable. */
export function markAppended(snapshot: ChatCompletionSnapshot, appended: Appended): void {
  Object.defineProperty(snapshot, APPENDED, { value: appended });
}

/**
 * The `Appended` a snapshot carries, or `undefined` for one that did not come
 * from `accumulateContent` (or whose mark has another shape: another version
 * of the package shares the key).
 */
export function appendedOf(snapshot: unknown): Appended | undefined {
  if (typeof snapshot !== 'object' || snapshot === null) return undefined;
  const mark = (snapshot as { [APPENDED]?: Partial<Appended> })[APPENDED];
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
