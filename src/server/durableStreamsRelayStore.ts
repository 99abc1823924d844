import { defer, map, type Observable } from 'rxjs';
import { fromDurableStream } from '../sources/fromDurableStream.js';
import type { FetchLike } from '../transport/index.js';
import {
  RelayLeaseLostError,
  type RelayClaim,
  type RelayClaimOptions,
  type RelayEvent,
  type RelayLease,
  type RelayLogEntry,
  type RelayLogState,
  type RelayPage,
  type RelayStore,
} from './relayStore.js';

/** Options of `durableStreamsRelayStore`. */
export interface DurableStreamsRelayStoreOptions {
  /** Where the relay's streams go: `<baseUrl><prefix><streamId>` (e.g. `http://127.0.0.1:4437/v1/stream/`). */
  baseUrl: string;
  /** Put before every stream id in the path. Default: `'rxjs-llm-stream-relay-'`. */
  prefix?: string | undefined;
  /** Extra headers of every request (the server's credentials). */
  headers?: Record<string, string> | undefined;
  /** The `fetch` to use. Default: `globalThis.fetch`. */
  fetch?: FetchLike | undefined;
}

/** One record of a relay stream's Durable Stream (an `application/json` stream of these). */
type RelayRecord =
  | { t: 'claim'; at: number; log: string; epoch: number; token: string; leaseMs: number; ttlMs: number; owner?: string }
  | { t: 'renew'; at: number; epoch: number }
  | { t: 'append'; at: number; epoch: number; events: RelayEvent[]; resume?: string }
  | { t: 'end'; at: number; epoch: number; event: RelayEvent; ttlMs: number }
  | { t: 'release'; at: number; epoch: number }
  | { t: 'seen'; at: number; ttlMs: number };

/** What one instance knows of a relay stream, folded from its records. */
interface Folded {
  /** The Durable Streams offset after the last record read, and how many records that is. */
  offset: string;
  count: number;
  log?: string;
  epoch: number;
  token?: string;
  leaseMs: number;
  ttlMs: number;
  leaseUntil: number;
  expiresAt: number;
  owner?: string;
  entries: RelayLogEntry[];
  ended: boolean;
  resume?: string;
  seenAt?: number;
  seenUntil?: number;
}

const MAX_ATTEMPTS = 100;
const PRODUCER = 'rxjs-llm-stream-relay';

/**
 * A `RelayStore` on any **Durable Streams** server (the reference server
 * `@durable-streams/server`, a hosted one): a team that already runs one
 * needs no Redis. Each relay stream is one `application/json` Durable Stream
 * of records (claims, renewals, appends, ends, releases, reads), and the
 * store's state is the fold of those records, read incrementally by offset.
 *
 * - **Atomic steps.** Every record is appended with `Stream-Seq` set to the
 *   record count it was decided on, so a write decided on a stale view is
 *   refused (`409`) by the server, and the store reads the news and decides
 *   again: claims, takeovers and fenced appends are compare-and-append on the
 *   protocol's own writer sequence.
 * - **Producers are the protocol's.** Writes under a lease carry
 *   `Producer-Id` (one per log), `Producer-Epoch` (the lease's epoch) and
 *   `Producer-Seq`: after a takeover, the server itself fences the earlier
 *   producer (`403`), which rejects with `RelayLeaseLostError`.
 * - **Time** (lease lapse, a log's life from its last write) is the writers'
 *   clock recorded in each record: keep the instances' clocks in sync (NTP).
 *   Expired logs leave their records on the server; give the server a
 *   retention policy for them.
 * - `changes` long-polls the stream from this instance's last known offset.
 *
 * ```text
 * claim → {claim epoch 1}   append → {append [e1,e2]}   end → {end done}
 * another instance reads the same records and folds the same state
 * ```
 *
 * @example
 * ```ts
 * const relay = createRelay({ store: durableStreamsRelayStore({ baseUrl: 'http://127.0.0.1:4437/v1/stream/' }) });
 * ```
 */
export function durableStreamsRelayStore(options: DurableStreamsRelayStoreOptions): RelayStore {
  if (typeof options !== 'object' || options === null || typeof options.baseUrl !== 'string') {
    throw new TypeError('durableStreamsRelayStore: options.baseUrl must be the URL streams are created under.');
  }
  const base = new URL(options.baseUrl).href;
  const prefix = options.prefix ?? 'rxjs-llm-stream-relay-';
  const extraHeaders = options.headers ?? {};
  const doFetch: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const known = new Map<string, Folded>();
  /** Producer-Seq of each live lease (by token), counted by the instance that holds it. */
  const producerSeqs = new Map<string, number>();
  const urlOf = (streamId: string) => `${base}${prefix}${encodeURIComponent(streamId)}`;
  /** One operation at a time per stream in this instance, so two reads never fold the same records twice. */
  const queues = new Map<string, Promise<unknown>>();
  function serialized<R>(streamId: string, run: () => Promise<R>): Promise<R> {
    const result = (queues.get(streamId) ?? Promise.resolve()).then(run, run);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    queues.set(streamId, tail);
    void tail.then(() => {
      if (queues.get(streamId) === tail) queues.delete(streamId);
    });
    return result;
  }

  /** Reads the records after what this instance knows, and folds them; `undefined` when the stream was never created. */
  async function sync(streamId: string): Promise<Folded | undefined> {
    let folded = known.get(streamId);
    for (let page = 0; page < 10_000; page++) {
      const offset = folded?.offset ?? '-1';
      const response = await doFetch(`${urlOf(streamId)}?offset=${encodeURIComponent(offset)}`, { method: 'GET', headers: extraHeaders });
      if (response.status === 404) {
        await response.body?.cancel();
        return undefined;
      }
      if (!response.ok) throw new Error(`durableStreamsRelayStore: HTTP ${response.status} reading a stream.`);
      const records = (await response.json()) as RelayRecord[];
      const next = response.headers.get('stream-next-offset');
      if (next === null) throw new Error('durableStreamsRelayStore: the server sent no Stream-Next-Offset.');
      folded ??= empty();
      for (const record of records) apply(folded, record);
      folded.offset = next;
      known.set(streamId, folded);
      if (response.headers.get('stream-up-to-date') !== null || records.length === 0) return folded;
    }
    return folded;
  }

  /**
   * Decides a record on the freshest view and appends it with `Stream-Seq`;
   * on a lost race, reads the news and decides again. `decide` answers the
   * record to write (or `undefined` to write nothing) and the result.
   */
  function mutate<R>(
    streamId: string,
    decide: (folded: Folded | undefined, now: number) => { record?: RelayRecord; lease?: RelayLease; result: R },
  ): Promise<R> {
    return serialized(streamId, () => mutateNow(streamId, decide));
  }

  async function mutateNow<R>(
    streamId: string,
    decide: (folded: Folded | undefined, now: number) => { record?: RelayRecord; lease?: RelayLease; result: R },
  ): Promise<R> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const folded = await sync(streamId);
      const { record, lease, result } = decide(folded, Date.now());
      if (record === undefined) return result;
      if (folded === undefined) {
        const created = await doFetch(urlOf(streamId), { method: 'PUT', headers: { ...extraHeaders, 'content-type': 'application/json' } });
        await created.body?.cancel();
        if (created.status !== 201 && created.status !== 200) throw new Error(`durableStreamsRelayStore: HTTP ${created.status} creating a stream.`);
        continue;
      }
      const headers: Record<string, string> = {
        ...extraHeaders,
        'content-type': 'application/json',
        'stream-seq': String(folded.count + 1).padStart(16, '0'),
      };
      const holder = lease ?? undefined;
      if (holder) {
        headers['producer-id'] = `${PRODUCER}:${holder.log}`;
        headers['producer-epoch'] = String(holder.epoch);
        headers['producer-seq'] = String(producerSeqs.get(holder.token) ?? 0);
      }
      const response = await doFetch(urlOf(streamId), { method: 'POST', headers, body: JSON.stringify([record]) });
      await response.body?.cancel();
      if (response.status === 403 && holder) throw new RelayLeaseLostError(streamId);
      if (response.status === 409 && response.headers.get('producer-expected-seq') !== null && holder) throw new RelayLeaseLostError(streamId);
      if (response.status === 409) continue;
      if (!response.ok) throw new Error(`durableStreamsRelayStore: HTTP ${response.status} appending to a stream.`);
      if (holder) producerSeqs.set(holder.token, (producerSeqs.get(holder.token) ?? 0) + 1);
      // The write was decided on the whole log: it is the next record.
      apply(folded, record);
      const next = response.headers.get('stream-next-offset');
      if (next !== null) folded.offset = next;
      return result;
    }
    throw new Error(`durableStreamsRelayStore: gave up on stream "${streamId.slice(0, 80)}" after ${MAX_ATTEMPTS} lost races.`);
  }

  const live = (folded: Folded | undefined, now: number): folded is Folded & { log: string } =>
    folded !== undefined && folded.log !== undefined && now <= folded.expiresAt;
  const holds = (folded: Folded | undefined, lease: RelayLease, now: number) =>
    live(folded, now) && folded.log === lease.log && folded.token === lease.token && !folded.ended && now <= folded.leaseUntil;

  return {
    async claim(streamId: string, claimOptions: RelayClaimOptions): Promise<RelayClaim> {
      return mutate<RelayClaim>(streamId, (folded, now) => {
        const token = randomName(16);
        const owner = claimOptions.owner;
        const base = { t: 'claim' as const, at: now, token, leaseMs: claimOptions.leaseMs, ttlMs: claimOptions.ttlMs, ...(owner === undefined ? {} : { owner }) };
        if (!live(folded, now)) {
          const log = randomName(8);
          const lease: RelayLease = { streamId, log, token, epoch: 1, leaseMs: claimOptions.leaseMs, ttlMs: claimOptions.ttlMs };
          return { record: { ...base, log, epoch: 1 }, lease, result: { status: 'created', lease } };
        }
        if (folded.ended) return { result: { status: 'ended' } };
        if (now <= folded.leaseUntil && folded.token !== undefined) return { result: { status: 'held' } };
        if (folded.owner !== owner) return { result: { status: 'forbidden' } };
        const epoch = folded.epoch + 1;
        const lease: RelayLease = { streamId, log: folded.log, token, epoch, leaseMs: claimOptions.leaseMs, ttlMs: claimOptions.ttlMs };
        const lastSeq = folded.entries.length;
        return {
          record: { ...base, log: folded.log, epoch, ...(folded.owner === undefined ? {} : { owner: folded.owner }) },
          lease,
          result: { status: 'takenOver', lease, lastSeq, resume: folded.resume },
        };
      });
    },
    async append(lease: RelayLease, events: readonly RelayEvent[], resume?: string): Promise<number> {
      return mutate(lease.streamId, (folded, now) => {
        if (!holds(folded, lease, now)) throw new RelayLeaseLostError(lease.streamId);
        const copies = events.map((event) => (event.event === undefined ? { data: event.data } : { event: event.event, data: event.data }));
        const record: RelayRecord = { t: 'append', at: now, epoch: lease.epoch, events: copies, ...(resume === undefined ? {} : { resume }) };
        return { record, lease, result: folded!.entries.length + copies.length };
      });
    },
    async renew(lease: RelayLease): Promise<boolean> {
      try {
        return await mutate(lease.streamId, (folded, now) =>
          holds(folded, lease, now) ? { record: { t: 'renew', at: now, epoch: lease.epoch }, lease, result: true } : { result: false },
        );
      } catch (error) {
        if (error instanceof RelayLeaseLostError) return false;
        throw error;
      }
    },
    async end(lease: RelayLease, event: RelayEvent, ttlMs: number): Promise<number> {
      return mutate(lease.streamId, (folded, now) => {
        if (!holds(folded, lease, now)) throw new RelayLeaseLostError(lease.streamId);
        const copy = event.event === undefined ? { data: event.data } : { event: event.event, data: event.data };
        return { record: { t: 'end', at: now, epoch: lease.epoch, event: copy, ttlMs }, lease, result: folded!.entries.length + 1 };
      });
    },
    async release(lease: RelayLease): Promise<void> {
      try {
        await mutate(lease.streamId, (folded, now) =>
          holds(folded, lease, now) ? { record: { t: 'release', at: now, epoch: lease.epoch }, lease, result: undefined } : { result: undefined },
        );
      } catch (error) {
        if (!(error instanceof RelayLeaseLostError)) throw error;
      }
      producerSeqs.delete(lease.token);
    },
    async state(streamId: string): Promise<RelayLogState | undefined> {
      const folded = await serialized(streamId, () => sync(streamId));
      const now = Date.now();
      return live(folded, now) ? stateOf(folded, now) : undefined;
    },
    async read(streamId: string, afterSeq: number, limit: number): Promise<RelayPage | undefined> {
      const folded = await serialized(streamId, () => sync(streamId));
      const now = Date.now();
      if (!live(folded, now)) return undefined;
      const last = folded.entries.length;
      const from = folded.ended && afterSeq >= last ? last - 1 : Math.max(0, afterSeq);
      return { ...stateOf(folded, now), entries: folded.entries.slice(from, from + Math.max(0, limit)) };
    },
    changes(streamId: string): Observable<void> {
      return defer(() =>
        fromDurableStream<RelayRecord>({ url: urlOf(streamId), offset: known.get(streamId)?.offset ?? 'now', live: 'long-poll', headers: extraHeaders, fetch: doFetch }),
      ).pipe(map(() => undefined));
    },
    async touch(streamId: string, ttlMs: number): Promise<void> {
      await mutate(streamId, (folded, now) => (live(folded, now) ? { record: { t: 'seen', at: now, ttlMs }, result: undefined } : { result: undefined }));
    },
    async lastSeen(streamId: string): Promise<number | undefined> {
      const folded = await serialized(streamId, () => sync(streamId));
      const now = Date.now();
      if (!live(folded, now) || folded.seenAt === undefined || now > folded.seenUntil!) return undefined;
      return folded.seenAt;
    },
  };
}

function empty(): Folded {
  return { offset: '-1', count: 0, epoch: 0, leaseMs: 0, ttlMs: 0, leaseUntil: 0, expiresAt: 0, entries: [], ended: false };
}

/** Folds one record into what is known; records that do not apply (a fenced writer's, decided on a stale view) cannot exist: each was compared-and-appended. */
function apply(folded: Folded, record: RelayRecord): void {
  folded.count++;
  switch (record.t) {
    case 'claim':
      if (record.log !== folded.log) {
        // A new log (the first, or after the last one expired): nothing of the old one carries over.
        Object.assign(folded, { entries: [], ended: false, resume: undefined, seenAt: undefined, seenUntil: undefined, owner: record.owner });
        folded.log = record.log;
      }
      folded.epoch = record.epoch;
      folded.token = record.token;
      folded.leaseMs = record.leaseMs;
      folded.ttlMs = record.ttlMs;
      folded.leaseUntil = record.at + record.leaseMs;
      folded.expiresAt = record.at + record.ttlMs;
      return;
    case 'renew':
      folded.leaseUntil = record.at + folded.leaseMs;
      folded.expiresAt = record.at + folded.ttlMs;
      return;
    case 'append':
      for (const event of record.events) folded.entries.push({ seq: folded.entries.length + 1, ...event });
      if (record.resume !== undefined) folded.resume = record.resume;
      folded.leaseUntil = record.at + folded.leaseMs;
      folded.expiresAt = record.at + folded.ttlMs;
      return;
    case 'end':
      folded.entries.push({ seq: folded.entries.length + 1, ...record.event, end: true });
      folded.ended = true;
      folded.token = undefined;
      folded.expiresAt = record.at + record.ttlMs;
      return;
    case 'release':
      folded.token = undefined;
      folded.leaseUntil = 0;
      return;
    case 'seen':
      folded.seenAt = record.at;
      folded.seenUntil = record.at + record.ttlMs;
      return;
  }
}

function stateOf(folded: Folded & { log: string }, now: number): RelayLogState {
  return {
    log: folded.log,
    lastSeq: folded.entries.length,
    ended: folded.ended,
    leased: !folded.ended && folded.token !== undefined && now <= folded.leaseUntil,
    owner: folded.owner,
  };
}

/** A random name of `bytes` bytes, hex. */
function randomName(bytes: number): string {
  const values = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(values, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
