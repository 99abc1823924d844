import { Observable } from 'rxjs';
import type { LegacyRelayStore as RelayStore } from './legacyRelayStore.js';
import { RelayStreamNotFoundError, type RelayEntry, type RelayEvent } from './relayStore.js';

/**
 * The part of a node-redis client (`redis` 4, 5 or 6: `createClient()`) the
 * store uses: raw commands, and `duplicate()` for the dedicated connection a
 * blocking `XREAD` needs. Nothing is imported from `redis`: pass your client.
 */
export interface RedisClientLike {
  sendCommand(args: string[]): Promise<unknown>;
  duplicate(): RedisClientLike;
  connect(): Promise<unknown>;
  destroy?(): void;
  disconnect?(): Promise<unknown> | void;
}

/** Options of `redisRelayStore`. */
export interface RedisRelayStoreOptions {
  /** Prefix of every key. Default: `'rxjs-llm-stream:relay:'`. */
  keyPrefix?: string | undefined;
  /** The most entries a log keeps (`XADD MAXLEN ~`). Default: 100000. */
  maxEntries?: number | undefined;
  /** How long one blocking `XREAD` waits before it asks again, ms. Default: 5000. */
  blockMs?: number | undefined;
}

const KIND = 'k';
const DATA = 'd';
const EVENT = 'e';
/** Entries read per round trip when catching up. */
const PAGE = 500;

/**
 * A `RelayStore` on Redis Streams, so that many relay instances share the logs
 * and a client may reconnect to any of them. Per stream id: a stream key
 * (`XADD` with `MAXLEN ~` and an expiry; the SSE id is the entry id, such as
 * `1733041234567-0`), a terminal entry in the log itself, an owner key taken
 * with `SET NX` so that only one instance calls the provider, and a key for
 * the time a client last read. Catch-up reads with `XRANGE`, then follows
 * with `XREAD BLOCK` on a dedicated connection per reader (`duplicate()`).
 * Keys of one stream share a hash tag, so they stay in one Redis Cluster slot.
 *
 * ```text
 * instance A: XADD 1-0 a, XADD 2-0 b ...          client ← A: 1-0 a  (cut)
 * instance B: XRANGE key (1-0 +  → 2-0 b, then XREAD BLOCK ... → the rest
 * ```
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * const relay = createRelay({ store: redisRelayStore(client) });
 * ```
 */
export function redisRelayStore(client: RedisClientLike, options: RedisRelayStoreOptions = {}): RelayStore {
  if (typeof client?.sendCommand !== 'function' || typeof client.duplicate !== 'function') {
    throw new TypeError('redisRelayStore: pass a connected node-redis client (createClient from the redis package).');
  }
  const { keyPrefix = 'rxjs-llm-stream:relay:', maxEntries = 100_000, blockMs = 5_000 } = options;
  const key = (streamId: string, part = 'log') => `${keyPrefix}{${streamId}}:${part}`;
  const command = (args: Array<string | number>) => client.sendCommand(args.map(String));
  const add = (streamId: string, fields: string[]) =>
    command(['XADD', key(streamId), 'MAXLEN', '~', maxEntries, '*', ...fields]) as Promise<string>;
  const fieldsOf = (event: RelayEvent, kind: string) => [KIND, kind, DATA, event.data, ...(event.event === undefined ? [] : [EVENT, event.event])];

  return {
    async create(streamId, ttlMs) {
      const taken = await command(['SET', key(streamId, 'owner'), String(Date.now()), 'NX', 'PX', ttlMs]);
      if (taken !== 'OK') return false;
      await add(streamId, [KIND, 'start']);
      await command(['PEXPIRE', key(streamId), ttlMs]);
      return true;
    },
    async append(streamId, event) {
      return add(streamId, fieldsOf(event, 'event'));
    },
    async end(streamId, event, ttlMs) {
      await add(streamId, fieldsOf(event, 'end'));
      await Promise.all([command(['PEXPIRE', key(streamId), ttlMs]), command(['PEXPIRE', key(streamId, 'owner'), ttlMs])]);
    },
    async has(streamId) {
      return Number(await command(['EXISTS', key(streamId)])) === 1;
    },
    follow(streamId, afterId) {
      return new Observable<RelayEntry>((subscriber) => {
        if (afterId !== undefined && !/^\d{1,20}-\d{1,20}$/.test(afterId)) {
          subscriber.error(new TypeError('relay: Last-Event-ID is not an id of this stream.'));
          return;
        }
        const reader = client.duplicate();
        let closed = false;
        const deliver = (entries: unknown): string | undefined => {
          let last: string | undefined;
          for (const [id, fields] of entries as Array<[string, string[]]>) {
            last = id;
            const entry = toEntry(id, fields);
            if (entry === undefined) continue;
            subscriber.next(entry);
            if (entry.end) {
              closed = true;
              subscriber.complete();
              return id;
            }
          }
          return last;
        };
        const run = async () => {
          if (Number(await command(['EXISTS', key(streamId)])) !== 1) throw new RelayStreamNotFoundError(streamId);
          let last = afterId ?? '0-0';
          // Catch up page by page (exclusive start), then follow from the last id delivered.
          for (;;) {
            const page = (await command(['XRANGE', key(streamId), `(${last}`, '+', 'COUNT', PAGE])) as unknown[];
            last = deliver(page) ?? last;
            if (closed || page.length < PAGE) break;
          }
          if (closed) return;
          await reader.connect();
          while (!closed) {
            const reply = (await reader.sendCommand(['XREAD', 'COUNT', String(PAGE), 'BLOCK', String(blockMs), 'STREAMS', key(streamId), last])) as
              | Array<[string, unknown[]]>
              | null;
            if (closed) return;
            if (reply === null) {
              if (Number(await command(['EXISTS', key(streamId)])) !== 1) throw new RelayStreamNotFoundError(streamId);
              continue;
            }
            for (const [, entries] of reply) last = deliver(entries) ?? last;
          }
        };
        run().then(
          () => undefined,
          (error: unknown) => {
            if (!closed) subscriber.error(error);
          },
        );
        return () => {
          closed = true;
          try {
            if (typeof reader.destroy === 'function') reader.destroy();
            else void Promise.resolve(reader.disconnect?.()).catch(() => undefined);
          } catch {
            // Never connected, or already closed.
          }
        };
      });
    },
    async touch(streamId, ttlMs) {
      await command(['SET', key(streamId, 'seen'), String(Date.now()), 'PX', ttlMs]);
    },
    async lastSeen(streamId) {
      const value = await command(['GET', key(streamId, 'seen')]);
      return typeof value === 'string' ? Number(value) : undefined;
    },
  };
}

function toEntry(id: string, fields: string[]): RelayEntry | undefined {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!;
  const kind = record[KIND];
  if (kind !== 'event' && kind !== 'end') return undefined;
  const entry: RelayEntry = { id, data: record[DATA] ?? '' };
  if (record[EVENT] !== undefined) entry.event = record[EVENT];
  if (kind === 'end') entry.end = true;
  return entry;
}
