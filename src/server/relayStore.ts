import type { Observable } from 'rxjs';
import { StreamError } from '../errors.js';

/**
 * The relay's store interface (wave 3): what `createRelay` asks of a place
 * that keeps each stream's log. It is settled here, once, so that every store
 * (memory, Redis through any client, a Durable Streams server) implements the
 * same semantics and the relay's engine can change underneath:
 *
 * - **A log per stream id**, created by the first `claim`, with a random
 *   `log` name that never repeats (an event id is `<log>-<seq>`, so a
 *   `Last-Event-ID` from another log of the same stream id is recognised)
 *   and entries numbered 1, 2, 3, ... (`seq`). The last entry may be a
 *   terminal one (`end: true`); nothing follows it.
 * - **One producer, by lease, fenced.** `claim` hands out a `RelayLease`
 *   (a token and a producer epoch that grows by one on every claim of the
 *   log). Every write (`append`, `renew`, `end`, `release`) is checked
 *   against it in one atomic step (Redis: one script; memory: a compare):
 *   a producer that lost its lease can no longer write, and rejects with
 *   `RelayLeaseLostError`.
 * - **Takeover.** A log whose lease lapsed (not renewed for `leaseMs`) or was
 *   released, with no terminal entry, is claimed again by the next `claim`:
 *   same `log`, a higher epoch, numbering continues after `lastSeq`, and the
 *   last recorded resume point comes back. A store with `offer` skips a fixed
 *   number of `seq`s at a takeover (its entries are then numbered past a
 *   gap), so that an id it showed but never stored is never reused: a
 *   position that names no entry of the log is read as another log's.
 * - **Shown before stored (optional).** A store that serves the readers of
 *   its own instance from memory may implement `offer`: the producer hands
 *   each value there as it arrives, and the store shows it to those readers
 *   at once, numbered as the append that follows will number it, instead of
 *   after a round trip.
 * - **Lifetime from the last write.** Every fenced write extends the log's
 *   life to `ttlMs` from now; `end` sets it to its own `ttlMs`. A write never
 *   re-creates a log that expired (it rejects with `RelayLeaseLostError`).
 * - **Pull reads.** Readers ask for a page after a position (`read`, or
 *   `readNow` for what the store holds in memory) and are told when to ask
 *   again (`changes`); nothing is pushed to a reader that has not asked, so
 *   a reader that does not drain costs nothing in the store.
 * - **Faults are errors, never crashes.** A method may reject (or `changes`
 *   may error) when the store is unreachable; a store never throws
 *   asynchronously outside them, and never lets an `'error'` event go
 *   unhandled.
 * - **Nothing is written for an unknown id** by `read`, `state`, `changes`,
 *   `touch` or `lastSeen`.
 *
 * Stream ids reaching a store are already validated by the relay (1 to 200
 * characters of `A-Z a-z 0-9 - _ . :`).
 */
export interface RelayStore {
  /**
   * Claims `streamId` for a producer: creates its log (`'created'`), or takes
   * over a log whose lease lapsed or was released with no terminal entry
   * (`'takenOver'`). Otherwise answers why not, without writing anything:
   * `'held'` (a live lease), `'ended'` (the log has its terminal entry),
   * `'forbidden'` (the log records another `owner`). Rejects with
   * `RelayBusyError` when the store takes no more streams.
   */
  claim(streamId: string, options: RelayClaimOptions): Promise<RelayClaim>;
  /**
   * Appends `events` in order under `lease`, renews the lease and the log's
   * life, and records `resume` (when given) as the log's resume point, all in
   * one atomic step. Resolves to the `seq` of the last appended entry.
   * Rejects with `RelayLeaseLostError` when `lease` no longer holds the log
   * (or the log expired), and with `RelayLogFullError` when the entries would
   * pass the store's `maxEntries` or `maxBytes` (nothing is appended then).
   */
  append(lease: RelayLease, events: readonly RelayEvent[], resume?: string): Promise<number>;
  /**
   * Optional. `events` the producer of `lease` is about to append, in the
   * order it will append them (the next `append`s carry exactly these, in
   * batches). The store may show them at once to the readers it serves from
   * memory, numbered as they will be stored; it stops showing ahead (and
   * shows what follows only once stored) when more than 1,024
   * (`RELAY_TAKEOVER_SKIP`) entries would be shown and not stored. A store
   * with `offer` skips that many seqs at every takeover. Never throws,
   * writes nothing.
   */
  offer?(lease: RelayLease, events: readonly RelayEvent[]): void;
  /** Renews the lease and the log's life. Resolves `false` (writing nothing) when `lease` no longer holds the log. */
  renew(lease: RelayLease): Promise<boolean>;
  /**
   * Appends the terminal entry under `lease`, sets the log's life to `ttlMs`
   * from now and drops the lease. Resolves to the terminal entry's `seq`.
   * Rejects with `RelayLeaseLostError` like `append`; never with
   * `RelayLogFullError` (the terminal entry is always room).
   */
  end(lease: RelayLease, event: RelayEvent, ttlMs: number): Promise<number>;
  /**
   * Drops the lease at once without a terminal entry, so that the next
   * `claim` (on any instance) takes the log over without waiting for a lapse.
   * Does nothing when `lease` no longer holds the log.
   */
  release(lease: RelayLease): Promise<void>;
  /** The log's state, or `undefined` for an unknown or expired stream id. */
  state(streamId: string): Promise<RelayLogState | undefined>;
  /**
   * Up to `limit` entries with `seq` greater than `afterSeq` (0: from the
   * start), with the log's state, or `undefined` for an unknown or expired
   * stream id. When the log has ended and `afterSeq` is at or past its
   * terminal entry, the page holds the terminal entry again.
   *
   * With `seen` (optional to honour), the store may also record the read as
   * `touch` does, in the same step, when the log's owner is `seen.owner` or
   * it has none; it then marks the page `seen: true`, and the reader does
   * not `touch` (a store that ignores `seen` is touched as before).
   */
  read(streamId: string, afterSeq: number, limit: number, seen?: RelayReadSeen): Promise<RelayPage | undefined>;
  /**
   * Optional. The page `read` would give, at once, when the store holds it
   * in this process's memory (a log it keeps or produces here, or a window
   * of one it follows); `undefined` when it does not (the reader then calls
   * `read`). A reader that keeps up with its log reads through this, with
   * no promise per entry. Never throws, never waits, writes nothing.
   */
  readNow?(streamId: string, afterSeq: number, limit: number): RelayPage | undefined;
  /**
   * Emits whenever the log of `streamId` may have changed (entries appended,
   * ended, lease released or taken over), so a reader that is waiting reads
   * again. May emit spuriously; never replays. A lapsed lease need not be
   * signalled: readers poll `state` (or `read`) on their heartbeat for that.
   * Errors when the store loses its connection (the reader then ends its
   * response without a terminal event, and its client resumes).
   */
  changes(streamId: string): Observable<void>;
  /** Records that a client read `streamId` now (kept `ttlMs`). Writes nothing for an unknown stream id. */
  touch(streamId: string, ttlMs: number): Promise<void>;
  /** When a client last read `streamId` (ms since the epoch), if ever. */
  lastSeen(streamId: string): Promise<number | undefined>;
  /** Closes what the store opened itself (its own connections, timers); not the client it was given. */
  close?(): Promise<void>;
}

/**
 * How many entries a store with `offer` shows, at most, before they are
 * stored, and so how many `seq`s it skips at a takeover: an entry shown by
 * an owner that died before storing it keeps an id that no later entry takes.
 */
export const RELAY_TAKEOVER_SKIP = 1024;

/** What `claim` needs. */
export interface RelayClaimOptions {
  /** How long the lease lasts without a renewal, ms. */
  readonly leaseMs: number;
  /** How long the log lives after its last write, ms. */
  readonly ttlMs: number;
  /** Who may read the stream (`start`'s `owner`); recorded when the log is created, compared on takeover. */
  readonly owner?: string | undefined;
}

/** The right to write one log, as `claim` hands it out; pass it back to every write. */
export interface RelayLease {
  readonly streamId: string;
  /** The log this lease writes (the first part of every event id). */
  readonly log: string;
  /** A random token only this producer knows. */
  readonly token: string;
  /** The producer epoch: 1 for the producer that created the log, one more for each takeover. */
  readonly epoch: number;
  readonly leaseMs: number;
  readonly ttlMs: number;
}

/** What `claim` answers. */
export type RelayClaim =
  | { readonly status: 'created'; readonly lease: RelayLease }
  | {
      readonly status: 'takenOver';
      readonly lease: RelayLease;
      /** The `seq` of the last entry the earlier producers appended; the next one is `lastSeq + 1`. */
      readonly lastSeq: number;
      /** The last resume point recorded with an append, if any. */
      readonly resume?: string | undefined;
    }
  | { readonly status: 'held' | 'ended' | 'forbidden' };

/** One event of a relayed stream, as a store keeps it. */
export interface RelayEvent {
  /** The SSE `event:` type; left out for plain data events. */
  event?: string;
  data: string;
}

/** A stored event with its position in the log. */
export interface RelayLogEntry extends RelayEvent {
  /** 1, 2, 3, ...: the position in the log. */
  seq: number;
  /** Set on the terminal entry (the stream ended, failed or was cancelled); nothing follows it. */
  end?: true;
}

/** A stored event as the relay hands it out, with its SSE id (`<log>-<seq>`). */
export interface RelayEntry extends RelayEvent {
  id: string;
  /** Set on the terminal entry (the stream ended, failed or was cancelled); nothing follows it. */
  end?: true;
}

/** A read to record with a page (`RelayStore.read`), as `touch` records it. */
export interface RelayReadSeen {
  /** How long the record is kept, ms. */
  readonly ttlMs: number;
  /** The reader's owner: the read is recorded only when the log's owner is this one, or the log has none. */
  readonly owner: string | undefined;
}

/** What a store knows of one log. */
export interface RelayLogState {
  /** The log's name: random, never reused, the first part of every event id. */
  readonly log: string;
  /** The `seq` of the last entry (0 for an empty log). */
  readonly lastSeq: number;
  /** Whether the log holds its terminal entry. */
  readonly ended: boolean;
  /** Whether a producer holds a live lease on it now. */
  readonly leased: boolean;
  /** The owner recorded by the first `claim`, if any. */
  readonly owner?: string | undefined;
}

/** One page of a log, as `read` answers. */
export interface RelayPage extends RelayLogState {
  readonly entries: readonly RelayLogEntry[];
  /** Set when the store recorded the read it was asked to (`read`'s `seen`). */
  readonly seen?: true;
}

/**
 * The stream id is unknown, or its log expired.
 *
 * @example
 * ```ts
 * relay.frames(id, lastEventId).subscribe({
 *   error: (error) => (error instanceof RelayStreamNotFoundError ? response.writeHead(404).end() : response.destroy()),
 * });
 * ```
 */
export class RelayStreamNotFoundError extends StreamError {
  override readonly name = 'RelayStreamNotFoundError';
  constructor(streamId: string) {
    super(`relay: no stream "${streamId.slice(0, 80)}" (unknown, or expired).`, false);
  }
}

/**
 * A write under a lease that no longer holds the log (another producer took it over, or the log expired).
 *
 * @example
 * ```ts
 * // A store of your own: a fenced append that lost its lease stops the producer, writing nothing.
 * if (stored.token !== lease.token) throw new RelayLeaseLostError(lease.streamId);
 * ```
 */
export class RelayLeaseLostError extends StreamError {
  override readonly name = 'RelayLeaseLostError';
  constructor(streamId: string) {
    super(`relay: this instance no longer holds the lease on stream "${streamId.slice(0, 80)}"; it stops writing.`, false);
  }
}

/**
 * The log reached the store's `maxEntries` or `maxBytes`: the producer is stopped and the log ends with an error entry.
 *
 * @example
 * ```ts
 * // A store of your own refuses the append that would pass its cap, appending nothing:
 * if (entries.length + batch.length > maxEntries) throw new RelayLogFullError('maxEntries', maxEntries);
 * // Browsers then read an `error` event: parseRelayedChunks gives RelayedError, upstreamName 'RelayLogFullError'.
 * ```
 */
export class RelayLogFullError extends StreamError {
  override readonly name = 'RelayLogFullError';
  constructor(readonly limit: 'maxEntries' | 'maxBytes', readonly max: number) {
    super(`relay: the stream's log reached its ${limit} (${max}); the answer was stopped there.`, false);
  }
}

/**
 * The store takes no more streams (`maxStreams`): answer 503 with `Retry-After`.
 *
 * @example
 * ```ts
 * try {
 *   await relay.start(id, answer$, { owner });
 * } catch (error) {
 *   if (error instanceof RelayBusyError) return void response.writeHead(503, { 'retry-after': '1' }).end();
 *   throw error;
 * }
 * ```
 */
export class RelayBusyError extends StreamError {
  override readonly name = 'RelayBusyError';
  constructor(readonly maxStreams: number) {
    super(`relay: this instance already runs ${maxStreams} streams (maxStreams); try again later.`, true);
  }
}

/**
 * The stream belongs to another owner (or to one, and none was given).
 *
 * @example
 * ```ts
 * relay.events(id, lastEventId, { owner: session.userId }).subscribe({
 *   error: (error) => (error instanceof RelayForbiddenError ? response.writeHead(403).end() : response.destroy()),
 * });
 * ```
 */
export class RelayForbiddenError extends StreamError {
  override readonly name = 'RelayForbiddenError';
  constructor() {
    super('relay: this stream belongs to another owner.', false);
  }
}
