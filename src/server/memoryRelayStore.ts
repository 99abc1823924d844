import { concat, defer, from, Subject, throwError, type Observable } from 'rxjs';
import type { LegacyRelayStore as RelayStore } from './legacyRelayStore.js';
import { RelayStreamNotFoundError, type RelayEntry, type RelayEvent } from './relayStore.js';

interface Log {
  entries: RelayEntry[];
  live: Subject<RelayEntry>;
  expiry: ReturnType<typeof setTimeout>;
  lastSeen?: number;
}

/**
 * A `RelayStore` in this process's memory: the default, for one instance and
 * no set-up. Ids are `1`, `2`, ...; a log is dropped `ttlMs` after it was
 * created, or after it ended.
 *
 * ```text
 * append a, b; end   →   follow():    (1:a 2:b 3:end |)
 *                        follow('1'): (2:b 3:end |)
 * ```
 *
 * @example
 * ```ts
 * const relay = createRelay({ store: memoryRelayStore() });
 * ```
 */
export function memoryRelayStore(): RelayStore {
  const logs = new Map<string, Log>();
  const expire = (streamId: string, ttlMs: number) => {
    const timer = setTimeout(() => logs.delete(streamId), Math.min(ttlMs, 2 ** 31 - 1));
    (timer as { unref?: () => void }).unref?.();
    return timer;
  };
  const logOf = (streamId: string) => {
    const log = logs.get(streamId);
    if (!log) throw new RelayStreamNotFoundError(streamId);
    return log;
  };
  const add = (log: Log, event: RelayEvent, end?: true): RelayEntry => {
    if (log.live.closed) throw new Error('relay: the stream has ended; nothing can be appended.');
    const entry: RelayEntry = { id: String(log.entries.length + 1), data: event.data };
    if (event.event !== undefined) entry.event = event.event;
    if (end) entry.end = true;
    log.entries.push(entry);
    log.live.next(entry);
    return entry;
  };
  return {
    async create(streamId, ttlMs) {
      if (logs.has(streamId)) return false;
      logs.set(streamId, { entries: [], live: new Subject(), expiry: expire(streamId, ttlMs) });
      return true;
    },
    async append(streamId, event) {
      return add(logOf(streamId), event).id;
    },
    async end(streamId, event, ttlMs) {
      const log = logOf(streamId);
      add(log, event, true);
      log.live.complete();
      clearTimeout(log.expiry);
      log.expiry = expire(streamId, ttlMs);
    },
    async has(streamId) {
      return logs.has(streamId);
    },
    follow(streamId, afterId): Observable<RelayEntry> {
      return defer(() => {
        const log = logs.get(streamId);
        if (!log) return throwError(() => new RelayStreamNotFoundError(streamId));
        const start = afterId === undefined ? 0 : position(afterId);
        const past = from(log.entries.slice(start));
        return log.live.closed ? past : concat(past, log.live);
      });
    },
    async touch(streamId) {
      const log = logs.get(streamId);
      if (log) log.lastSeen = Date.now();
    },
    async lastSeen(streamId) {
      return logs.get(streamId)?.lastSeen;
    },
  };
}

/** The index after the entry `id`; ids are 1, 2, ... */
function position(id: string): number {
  if (!/^\d{1,15}$/.test(id)) throw new TypeError('relay: Last-Event-ID is not an id of this stream.');
  return Number(id);
}
