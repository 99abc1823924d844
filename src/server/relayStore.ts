import type { Observable } from 'rxjs';

/** One event of a relayed stream, as a store keeps it. */
export interface RelayEvent {
  /** The SSE `event:` type; left out for plain data events. */
  event?: string;
  data: string;
}

/** A stored event with its id: the position in the stream's log, sent as the SSE `id`. */
export interface RelayEntry extends RelayEvent {
  id: string;
  /** Set on the terminal entry (the stream ended, failed or was cancelled); nothing follows it. */
  end?: true;
}

/**
 * Where a relay keeps each stream's events: an ordered, append-only log per
 * stream id with a terminal entry in the log itself, readable from any offset
 * and followed live, with an expiry. `memoryRelayStore()` serves one process;
 * `redisRelayStore(client)` lets many instances share the logs.
 */
export interface RelayStore {
  /** Starts a log for `streamId` that lives `ttlMs`; `false` when the id is already taken. */
  create(streamId: string, ttlMs: number): Promise<boolean>;
  /** Appends an event; resolves to its id. */
  append(streamId: string, event: RelayEvent): Promise<string>;
  /** Appends the terminal entry and shortens the log's life to `ttlMs`. */
  end(streamId: string, event: RelayEvent, ttlMs: number): Promise<void>;
  /** Whether the log exists (not unknown, not expired). */
  has(streamId: string): Promise<boolean>;
  /**
   * The entries after `afterId` (all of them when it is undefined), then each
   * new one as it is appended, completing after the terminal entry. Errors
   * with `RelayStreamNotFoundError` for an unknown or expired stream, and
   * `TypeError` for an `afterId` this store never gave out.
   */
  follow(streamId: string, afterId?: string): Observable<RelayEntry>;
  /** Records that a client is reading `streamId` now. */
  touch(streamId: string, ttlMs: number): Promise<void>;
  /** When a client last read `streamId` (ms since the epoch), if ever. */
  lastSeen(streamId: string): Promise<number | undefined>;
}

/** The stream id is unknown, or its log expired. */
export class RelayStreamNotFoundError extends Error {
  override readonly name = 'RelayStreamNotFoundError';
  constructor(streamId: string) {
    super(`relay: no stream "${streamId.slice(0, 80)}" (unknown, or expired).`);
  }
}
