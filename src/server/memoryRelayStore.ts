import { EMPTY, type Observable } from 'rxjs';
import { changeSignal, type ChangeSignal } from './changeSignal.js';
import {
  RelayBusyError,
  RelayLeaseLostError,
  RelayLogFullError,
  type RelayClaim,
  type RelayEvent,
  type RelayLease,
  type RelayLogEntry,
  type RelayLogState,
  type RelayPage,
  type RelayStore,
} from './relayStore.js';
import { randomHex } from './randomHex.js';

/** Options of `memoryRelayStore`; every field is optional. */
export interface MemoryRelayStoreOptions {
  /** Entries one log may hold (the terminal entry is always room). Default: 100000. */
  maxEntries?: number | undefined;
  /** Bytes (UTF-8, of `event` and `data`) one log may hold. Default: 67108864 (64 MiB). */
  maxBytes?: number | undefined;
  /** Logs this process keeps at once (running or ended and not yet expired); a `claim` beyond it rejects with `RelayBusyError`. Default: 10000. */
  maxStreams?: number | undefined;
}

/** One log, as this process keeps it. */
interface MemoryLog {
  readonly streamId: string;
  readonly log: string;
  readonly owner: string | undefined;
  readonly entries: RelayLogEntry[];
  readonly changes: ChangeSignal;
  bytes: number;
  ended: boolean;
  epoch: number;
  /** The live lease's token; `undefined` once released or ended. */
  token: string | undefined;
  leaseUntil: number;
  expiresAt: number;
  resume: string | undefined;
  lastSeen: number | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const NAME = 'memoryRelayStore';
/** setTimeout's largest delay. */
const MAX_TIMER = 2 ** 31 - 1;

/**
 * A `RelayStore` in this process's memory: the default, for one instance and
 * no set-up. Leases are fenced by a token compare; a log lives `ttlMs` after
 * its last write (its terminal entry: the `ttlMs` given to `end`); each log is
 * capped by `maxEntries` and `maxBytes`, and the process by `maxStreams`.
 * Readers are told of new entries through a change signal per log. Its timers do
 * not keep the process alive.
 *
 * ```text
 * claim → created (epoch 1); append a, b; end   →   read(0):  1:a 2:b 3:end
 *                                                     read(3):  3:end (the terminal entry again)
 * claim after a lapse or release                →   takenOver (epoch 2, lastSeq 2)
 * ```
 *
 * @example
 * ```ts
 * const relay = createRelay({ store: memoryRelayStore({ maxStreams: 500 }) });
 * ```
 */
export function memoryRelayStore(options: MemoryRelayStoreOptions = {}): RelayStore {
  const { maxEntries = 100_000, maxBytes = 64 * 1024 * 1024, maxStreams = 10_000 } = options;
  assertLimit('maxEntries', maxEntries);
  assertLimit('maxBytes', maxBytes);
  assertLimit('maxStreams', maxStreams);
  const logs = new Map<string, MemoryLog>();

  const drop = (log: MemoryLog) => {
    if (log.timer !== undefined) clearTimeout(log.timer);
    if (logs.get(log.streamId) === log) logs.delete(log.streamId);
    log.changes.notify();
    log.changes.end();
  };
  /** Arms (or re-arms) the expiry timer; a timer that fires early re-arms itself for the rest. */
  const arm = (log: MemoryLog) => {
    if (log.timer !== undefined) clearTimeout(log.timer);
    const timer = setTimeout(() => {
      log.timer = undefined;
      if (Date.now() >= log.expiresAt) drop(log);
      else arm(log);
    }, Math.min(Math.max(0, log.expiresAt - Date.now()), MAX_TIMER));
    (timer as { unref?: () => void }).unref?.();
    log.timer = timer;
  };
  const extend = (log: MemoryLog, ttlMs: number) => {
    const expiresAt = Date.now() + ttlMs;
    const rearm = log.timer === undefined || expiresAt < log.expiresAt;
    log.expiresAt = expiresAt;
    if (rearm) arm(log);
  };
  /** The log of `streamId` unless it expired. */
  const live = (streamId: string): MemoryLog | undefined => {
    const log = logs.get(streamId);
    if (log && Date.now() >= log.expiresAt) {
      drop(log);
      return undefined;
    }
    return log;
  };
  /** The log `lease` holds, or `undefined` when it no longer does (taken over, released, lapsed, ended, expired). */
  const held = (lease: RelayLease): MemoryLog | undefined => {
    const log = live(lease.streamId);
    if (!log || log.log !== lease.log || log.token === undefined || log.token !== lease.token || Date.now() >= log.leaseUntil) return undefined;
    return log;
  };
  const grant = (log: MemoryLog, leaseMs: number, ttlMs: number): RelayLease => {
    log.epoch++;
    log.token = randomHex(16);
    log.leaseUntil = Date.now() + leaseMs;
    extend(log, ttlMs);
    log.changes.notify();
    return { streamId: log.streamId, log: log.log, token: log.token, epoch: log.epoch, leaseMs, ttlMs };
  };
  const leased = (log: MemoryLog) => log.token !== undefined && Date.now() < log.leaseUntil;
  const stateOf = (log: MemoryLog): RelayLogState => ({ log: log.log, lastSeq: log.entries.length, ended: log.ended, leased: leased(log), owner: log.owner });

  /** What `read` gives; at once, since every log is in memory (`undefined` for a gone one: `read` says so too). */
  function pageOf(streamId: string, afterSeq: number, limit: number): RelayPage | undefined {
    const log = live(streamId);
    if (!log) return undefined;
    const after = Math.max(0, Math.floor(afterSeq) || 0);
    const count = Math.max(1, Math.floor(limit) || 1);
    const entries = log.ended && after >= log.entries.length ? log.entries.slice(-1) : log.entries.slice(after, after + count);
    return { log: log.log, lastSeq: log.entries.length, ended: log.ended, leased: leased(log), owner: log.owner, entries };
  }

  return {
    async claim(streamId, { leaseMs, ttlMs, owner }): Promise<RelayClaim> {
      const log = live(streamId);
      if (!log) {
        if (logs.size >= maxStreams) throw new RelayBusyError(maxStreams);
        const created: MemoryLog = {
          streamId,
          log: randomHex(8),
          owner,
          entries: [],
          changes: changeSignal(),
          bytes: 0,
          ended: false,
          epoch: 0,
          token: undefined,
          leaseUntil: 0,
          expiresAt: 0,
          resume: undefined,
          lastSeen: undefined,
          timer: undefined,
        };
        logs.set(streamId, created);
        return { status: 'created', lease: grant(created, leaseMs, ttlMs) };
      }
      if (log.owner !== owner) return { status: 'forbidden' };
      if (log.ended) return { status: 'ended' };
      if (log.token !== undefined && Date.now() < log.leaseUntil) return { status: 'held' };
      return { status: 'takenOver', lease: grant(log, leaseMs, ttlMs), lastSeq: log.entries.length, resume: log.resume };
    },
    async append(lease, events, resume) {
      const log = held(lease);
      if (!log) throw new RelayLeaseLostError(lease.streamId);
      if (log.entries.length + events.length > maxEntries) throw new RelayLogFullError('maxEntries', maxEntries);
      let bytes = 0;
      for (let i = 0; i < events.length; i++) bytes += sizeOf(events[i]!);
      if (log.bytes + bytes > maxBytes) throw new RelayLogFullError('maxBytes', maxBytes);
      for (const event of events) log.entries.push(entryOf(event, log.entries.length + 1));
      log.bytes += bytes;
      if (resume !== undefined) log.resume = resume;
      log.leaseUntil = Date.now() + lease.leaseMs;
      extend(log, lease.ttlMs);
      log.changes.notify();
      return log.entries.length;
    },
    async renew(lease) {
      const log = held(lease);
      if (!log) return false;
      log.leaseUntil = Date.now() + lease.leaseMs;
      extend(log, lease.ttlMs);
      return true;
    },
    async end(lease, event, ttlMs) {
      const log = held(lease);
      if (!log) throw new RelayLeaseLostError(lease.streamId);
      log.entries.push({ ...entryOf(event, log.entries.length + 1), end: true });
      log.bytes += sizeOf(event);
      log.ended = true;
      log.token = undefined;
      log.leaseUntil = 0;
      extend(log, ttlMs);
      log.changes.notify();
      return log.entries.length;
    },
    async release(lease) {
      const log = held(lease);
      if (!log) return;
      log.token = undefined;
      log.leaseUntil = 0;
      log.changes.notify();
    },
    async state(streamId) {
      const log = live(streamId);
      return log && stateOf(log);
    },
    async read(streamId, afterSeq, limit) {
      return pageOf(streamId, afterSeq, limit);
    },
    readNow: pageOf,
    changes(streamId): Observable<void> {
      return live(streamId)?.changes.observable ?? EMPTY;
    },
    async touch(streamId) {
      const log = live(streamId);
      if (log) log.lastSeen = Date.now();
    },
    async lastSeen(streamId) {
      return live(streamId)?.lastSeen;
    },
    async close() {
      for (const log of [...logs.values()]) drop(log);
    },
  };
}

function entryOf({ event, data }: RelayEvent, seq: number): RelayLogEntry {
  return event === undefined ? { seq, data } : { seq, event, data };
}

function sizeOf({ event, data }: RelayEvent): number {
  return Buffer.byteLength(data) + (event === undefined ? 0 : Buffer.byteLength(event));
}

function assertLimit(name: string, value: unknown): void {
  if (typeof value !== 'number' || !(value >= 1) || (value !== Infinity && !Number.isInteger(value))) {
    throw new RangeError(`${NAME}: options.${name} must be an integer, 1 or more (Infinity allowed).`);
  }
}
