/**
 * The logs this store instance produces, kept in memory as they are written
 * to Redis: the local readers of a stream read them from here (no round trip)
 * and are told of each entry at once: as the producer offers it, before
 * Redis acknowledges it (at most `RELAY_TAKEOVER_SKIP` ahead), numbered as
 * Redis will number it, so both paths hand out the same entries.
 * @internal
 */
import type { RelayLogEntry, RelayPage } from '../relayStore.js';

/** One locally produced log: its state and a window of its latest entries. */
export interface LocalLog {
  readonly log: string;
  readonly token: string;
  readonly epoch: number;
  readonly owner: string | undefined;
  /** The last entry Redis acknowledged. */
  lastSeq: number;
  /** The last entry shown to readers (offered, or acknowledged): at or past `lastSeq`. */
  shownSeq: number;
  /** Seqs the next stored write skips (after a takeover, until its first write lands). */
  skipNext: number;
  /** Entries offered but not shown (too far ahead of Redis); offers wait until they are stored. */
  refused: number;
  ended: boolean;
  leased: boolean;
  /** The latest entries, oldest first; always holds the last one once there is one. */
  readonly window: RelayLogEntry[];
  windowBytes: number;
  /** When this instance last wrote the log (ms since the epoch). */
  writtenAt: number;
  leaseMs: number;
  /** Appends to this log run one after another; each waits for the previous one. */
  queue: Promise<unknown>;
  /** Writes queued and not settled; `written` and `writeFailed` settle one (built once per log, not per write). */
  writing: number;
  readonly written: () => void;
  readonly writeFailed: () => void;
  /** Counts failed writes; an append queued before a failure rejects too (the producer retries in order). */
  failures: number;
  /**
   * Whether another instance followed the log at its last append (the
   * change message reached a subscriber; at first, assumed): its appends
   * then go to Redis at once; otherwise they wait for the loop's next turn,
   * gathered with others (see `GatheredCalls`).
   */
  followed: boolean;
  /**
   * When a client last read the log here (`touch`), kept in memory while
   * this instance serves the log (its producer asks here first; after the
   * end, nobody needs it in Redis), and the ttl it was given; written to
   * Redis when the instance stops serving the log before its end.
   */
  seenAt: number | undefined;
  seenTtl: number;
  /** The stream's keys (meta, log, lease, seen), and the start of the append script's header (`APPEND`), built once. */
  readonly keys: readonly string[];
  readonly appendHeader: string;
}

/** Bounds of the in-memory window kept per locally produced stream. */
export interface LocalWindowLimits {
  readonly entries: number;
  readonly bytes: number;
}

/** Builds a log entry; the one shape both the memory path and the Redis path hand out. */
export function logEntry(seq: number, data: string, event: string | undefined, end: boolean): RelayLogEntry {
  const entry: RelayLogEntry = { seq, data };
  if (event !== undefined) entry.event = event;
  if (end) entry.end = true;
  return entry;
}

/** Adds acknowledged entries to the window, dropping the oldest past the limits (the last one always stays). */
export function remember(local: LocalLog, entries: readonly RelayLogEntry[], limits: LocalWindowLimits): void {
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    local.window.push(entry);
    local.windowBytes += entry.data.length + (entry.event?.length ?? 0);
  }
  while (local.window.length > 1 && (local.window.length > limits.entries || local.windowBytes > limits.bytes)) {
    const dropped = local.window.shift()!;
    local.windowBytes -= dropped.data.length + (dropped.event?.length ?? 0);
  }
}

/**
 * A page served from the window, or `undefined` when the window does not
 * reach back to `afterSeq + 1` (the reader then reads Redis).
 */
export function localPage(local: LocalLog, afterSeq: number, limit: number): RelayPage | undefined {
  const { window } = local;
  const last = window[window.length - 1];
  if (local.ended && afterSeq >= local.shownSeq) return last ? pageOf(local, [last]) : undefined;
  if (afterSeq >= local.shownSeq) return pageOf(local, []);
  const first = window[0];
  if (!first || first.seq > afterSeq + 1) return undefined;
  const start = afterSeq + 1 - first.seq;
  return pageOf(local, window.slice(start, start + limit));
}

/** A page of `local` holding `entries`: one literal (this runs for every entry a local reader is sent). */
function pageOf(local: LocalLog, entries: RelayLogEntry[]): RelayPage {
  return { log: local.log, lastSeq: local.shownSeq, ended: local.ended, leased: local.leased, owner: local.owner, entries };
}
