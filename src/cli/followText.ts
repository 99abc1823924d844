/** What to do with one field of the answer after a snapshot. */
export type FollowStep =
  /** Show `piece` after what is shown. */
  | { kind: 'append'; piece: string }
  /** Nothing new to show: the text is what is shown, or a retry is still catching up with it. */
  | { kind: 'wait' }
  /** The text no longer matches what is shown: a retry generated a different one. */
  | { kind: 'restart' };

/** Follows one text field (`content`, `reasoning`, ...) of a stream of snapshots. */
export interface TextFollower {
  /**
   * The field in the next snapshot. `length` is its length; `tail` the
   * characters the chunk behind the snapshot added, when known; `whole`
   * reads the whole text (for a string built by concatenation that costs its
   * length, so it is called only when `tail` cannot be trusted: at the start
   * of a fold, or when the length does not add up). `newFold`: the snapshot
   * is the first of a new subscription, whose fold started over.
   */
  next(length: number, tail: string | undefined, whole: () => string, newFold: boolean): FollowStep;
  /** After a restart: `text` is now shown, and the fold stands at its end. */
  reset(text: string): void;
  /** Whether the current fold is shorter than what is shown (a retry ended on a shorter text). */
  behind(): boolean;
  /** Characters read through `whole` or compared so far; linear in the answer's length. */
  readonly work: number;
}

/**
 * Tracks what was shown of one text field and what the current fold holds,
 * so that only new text is shown, a retry that regenerates the same text
 * shows nothing twice, and one that generates a different text is noticed.
 * Each snapshot costs in proportion to what its chunk added: the shown text
 * is compared only where a retried fold overlaps it, and a snapshot's whole
 * text is read once per fold.
 *
 * ```text
 * fold 1:  "Hel"      "Hello wo"        (drop)
 * fold 2:                    "Hel"  "Hello wo"  "Hello world"
 * steps:   +"Hel"     +"lo wo"  wait    wait       +"rld"
 * ```
 *
 * @example
 * ```ts
 * const step = follower.next(snapshot.content.length, chunkText, () => snapshot.content, newFold);
 * if (step.kind === 'append') write(step.piece);
 * ```
 */
export function createTextFollower(): TextFollower {
  let shown = '';
  let shownLength = 0;
  /** Length of the current fold's text; its first `min(fold, shownLength)` characters equal what is shown. */
  let fold = 0;
  let work = 0;
  return {
    next(length, tail, whole, newFold) {
      let added: string;
      let from: number;
      if (!newFold && tail !== undefined && length === fold + tail.length) {
        added = tail;
        from = fold;
      } else {
        added = whole();
        work += added.length;
        from = 0;
      }
      const overlapEnd = Math.min(from + added.length, shownLength);
      if (from < overlapEnd) {
        work += overlapEnd - from;
        if (added.slice(0, overlapEnd - from) !== shown.slice(from, overlapEnd)) return { kind: 'restart' };
      }
      fold = from + added.length;
      if (fold <= shownLength) return { kind: 'wait' };
      const piece = from >= shownLength ? added : added.slice(shownLength - from);
      shown += piece;
      shownLength = fold;
      return { kind: 'append', piece };
    },
    reset(text) {
      shown = text;
      shownLength = text.length;
      fold = text.length;
    },
    behind: () => fold < shownLength,
    get work() {
      return work;
    },
  };
}
