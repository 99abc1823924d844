import { Observable } from 'rxjs';
import { ChangeFeeds, tellNext, type ChangeWatcher } from './redis/changeFeeds.js';
import { connectionReport, watchCommandConnection, type ConnectionReport } from './redis/connectionReports.js';
import { localPage, logEntry, remember, type LocalLog } from './redis/localLogs.js';
import { remotePage, takeMessage, takePage, type RemoteWindow } from './redis/remoteWindows.js';
import { connectionOf, detectKind, type RedisClientKind, type RedisConnection } from './redis/redisConnection.js';
import { APPEND, CLAIM, END, READ, RELEASE, RENEW, TOUCH, type RelayScript } from './redis/relayScripts.js';
import { entryArgument, GatheredCalls } from './redis/gatheredCalls.js';
import {
  RelayLeaseLostError,
  RelayLogFullError,
  RELAY_TAKEOVER_SKIP,
  type RelayClaim,
  type RelayEvent,
  type RelayLease,
  type RelayLogEntry,
  type RelayLogState,
  type RelayPage,
  type RelayReadSeen,
  type RelayStore,
} from './relayStore.js';
import type { RelayActivity } from './relayActivity.js';
import { randomHex } from './randomHex.js';

export type { RedisClientKind } from './redis/redisConnection.js';

/**
 * A Redis client the store accepts, as it is created by its own package:
 * node-redis 4, 5 or 6 (`createClient()` or `createCluster()`, connected) or
 * ioredis 5 or 6 (`new Redis()` or `new Cluster()`). The store detects which;
 * pass `{ client, kind }` to name it yourself. Nothing is imported from
 * either package.
 */
export type RedisClientLike = object;

/** A client with its family named, for when detection is not wanted. */
export interface NamedRedisClient {
  readonly client: RedisClientLike;
  readonly kind: RedisClientKind;
}

/** Options of `redisRelayStore`. */
export interface RedisRelayStoreOptions {
  /** Prefix of every key and channel. Default: `'rxjs-llm-stream:relay:'`. */
  keyPrefix?: string | undefined;
  /** The most entries a log takes; an append past it rejects with `RelayLogFullError` and appends nothing. Default: 100000. */
  maxEntries?: number | undefined;
  /** The most bytes (data and event types) a log takes, like `maxEntries`. Default: 64 MiB. */
  maxBytes?: number | undefined;
  /**
   * The longest a reader waiting on a stream produced by another instance
   * waits without a notification before it reads again (a safety net under
   * the change notifications), ms. Default: 5000.
   */
  blockMs?: number | undefined;
  /** The most bytes of recent entries kept in memory per stream this instance produces, for its local readers. Default: 1 MiB. */
  localWindowBytes?: number | undefined;
  /**
   * Told when a connection to Redis is lost and when it works again
   * (`storeDisconnected`, `storeReconnected`; `connection` says which: the
   * client's, for commands, or the store's own, that follows streams). Pass
   * the relay's: `relayTelemetry().onActivity` counts them. Its exceptions are
   * caught and ignored. Default: none.
   */
  onActivity?: ((activity: RelayActivity) => void) | undefined;
}

const LOCAL_WINDOW_ENTRIES = 4_096;
/** How long an ended or released local log still serves local readers from memory, at most, ms. */
const LINGER_MS = 30_000;

/**
 * A `RelayStore` on Redis, shared by every relay instance, through the client
 * you already have: node-redis 4, 5 or 6 (RESP2 or RESP3, a client or a
 * cluster) or ioredis 5 or 6 (`Redis` or `Cluster`).
 *
 * Each write (`claim`, `append`, `renew`, `end`, `release`) is one Lua script
 * that checks the lease token and epoch, so a producer that lost its lease
 * writes nothing; every write extends the log's life from now and never
 * re-creates an expired log. A stream's keys share the hash tag
 * `{streamId}` (one Cluster slot). Entries are Redis stream entries
 * `<seq>-0`. While many appends (or claims) are unanswered (a busy event
 * loop), those of different streams go together in one script call, each
 * stream still with its own check and answer (not on a Cluster, where each
 * goes alone). So do, always, the appends of a stream that no other
 * instance followed at its last append (its readers here were shown them
 * already): they wait for the event loop's next turn.
 *
 * Connections per instance are fixed: the client's own connection for
 * commands (pipelined), plus one subscriber connection per Redis node that
 * carries change notifications for the streams this instance's readers
 * follow. Readers of a stream this instance produces are served from memory
 * and told of each append at once, without a round trip; readers of a
 * stream produced elsewhere read Redis (`XRANGE` in a script) when notified.
 * A client's read of a stream this instance produces (`touch`) is kept in
 * memory too, where that stream's producer asks (`lastSeen`), and written to
 * Redis if the instance stops serving the stream before its end: `lastSeen`
 * asked on another instance sees the reads recorded there and in Redis.
 *
 * ```text
 * instance A: claim → append a, b → end       A's readers:  a b end   (from memory)
 * instance B:                                  B's readers:  a b end   (notified, then read from Redis)
 * ```
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * const store = redisRelayStore(client, { keyPrefix: 'chat:' });
 * ```
 */
export function redisRelayStore(client: RedisClientLike | NamedRedisClient, options: RedisRelayStoreOptions = {}): RelayStore {
  const named = isNamed(client) ? client : undefined;
  const connection = connectionOf(named ? named.client : client, named ? named.kind : detectKind(client));
  const {
    keyPrefix = 'rxjs-llm-stream:relay:',
    maxEntries = 100_000,
    maxBytes = 64 * 1024 * 1024,
    blockMs = 5_000,
    localWindowBytes = 1024 * 1024,
  } = options;
  checkPositive('maxEntries', maxEntries);
  checkPositive('maxBytes', maxBytes);
  checkPositive('blockMs', blockMs);
  checkPositive('localWindowBytes', localWindowBytes);
  if (typeof keyPrefix !== 'string' || /[{}]/.test(keyPrefix)) throw new TypeError('redisRelayStore: keyPrefix must be a string without { or }.');
  if (options.onActivity !== undefined && typeof options.onActivity !== 'function') throw new TypeError('redisRelayStore: onActivity must be a function.');
  const report = connectionReport(options.onActivity);
  const unwatch = report && watchCommandConnection(named ? named.client : client, report);
  return new RedisRelayStore(connection, { keyPrefix, maxEntries, maxBytes, blockMs, localWindow: { entries: LOCAL_WINDOW_ENTRIES, bytes: localWindowBytes }, report, unwatch });
}

function isNamed(value: unknown): value is NamedRedisClient {
  return typeof value === 'object' && value !== null && 'client' in value && 'kind' in value && detectKind(value) === undefined;
}

function checkPositive(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new TypeError(`redisRelayStore: ${name} must be a positive number.`);
}

interface Settings {
  keyPrefix: string;
  maxEntries: number;
  maxBytes: number;
  blockMs: number;
  localWindow: { entries: number; bytes: number };
  /** Where connections lost and back are reported (`onActivity`), and how to stop watching the client's. */
  report: ConnectionReport | undefined;
  unwatch: (() => void) | undefined;
}

/** A waiting reader of `changes`, and whether it listens to Redis (the stream is produced elsewhere). */
interface Watcher extends ChangeWatcher {
  stopRemote?: (() => void) | undefined;
}

class RedisRelayStore implements RelayStore {
  private readonly feeds: ChangeFeeds;
  private readonly locals = new Map<string, LocalLog>();
  private readonly watchers = new Map<string, Set<Watcher>>();
  /** Streams produced elsewhere that readers here follow: their latest published entries, by stream id. */
  private readonly remotes = new Map<string, RemoteWindow>();
  private readonly publish: string;
  private readonly claims: GatheredCalls;
  private readonly appends: GatheredCalls;
  private poke: ReturnType<typeof setInterval> | undefined;
  private sweptAt = 0;

  constructor(
    private readonly connection: RedisConnection,
    private readonly settings: Settings,
  ) {
    this.feeds = new ChangeFeeds(connection, settings.report, (channel, message) => {
      const window = this.remotes.get(this.streamIdOf(channel));
      if (!window) return;
      window.wokenAt = Date.now();
      takeMessage(window, message);
    });
    this.publish = connection.cluster ? 'SPUBLISH' : 'PUBLISH';
    this.claims = new GatheredCalls((keys, args) => this.run(CLAIM, '', args, keys), [this.publish], !connection.cluster);
    this.appends = new GatheredCalls((keys, args) => this.run(APPEND, '', args, keys), [this.publish], !connection.cluster);
  }

  private keys(streamId: string): string[] {
    const base = `${this.settings.keyPrefix}{${streamId}}:`;
    return [`${base}meta`, `${base}log`, `${base}lease`, `${base}seen`];
  }

  /** The stream's meta key (`keys(streamId)[0]`): all that `claim` and `append` name. */
  private metaKey(streamId: string): string {
    return `${this.settings.keyPrefix}{${streamId}}:meta`;
  }

  private channel(streamId: string): string {
    return `${this.settings.keyPrefix}{${streamId}}:changes`;
  }

  /** The stream id of a change channel (`channel`'s inverse). */
  private streamIdOf(channel: string): string {
    return channel.slice(this.settings.keyPrefix.length + 1, -'}:changes'.length);
  }

  /** Runs `script` (`EVALSHA`, or `EVAL` when Redis does not know it) on `streamId`'s keys, or on `keys`. */
  private run(script: RelayScript, streamId: string, args: ReadonlyArray<string | number>, keys: readonly string[] = this.keys(streamId)): Promise<unknown> {
    // Built in one array, by index.
    const command: string[] = ['EVALSHA', script.sha, String(keys.length)];
    for (let i = 0; i < keys.length; i++) command.push(keys[i]!);
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      command.push(typeof arg === 'string' ? arg : String(arg));
    }
    const key = keys[0]!;
    return this.connection.send(key, command).catch((error: unknown) => {
      if (!String((error as { message?: unknown } | undefined)?.message).includes('NOSCRIPT')) throw error;
      return this.connection.send(key, ['EVAL', script.body, ...command.slice(2)]);
    });
  }

  async claim(streamId: string, options: { leaseMs: number; ttlMs: number; owner?: string | undefined }): Promise<RelayClaim> {
    const log = randomHex(8);
    const token = randomHex(16);
    const { leaseMs, ttlMs, owner } = options;
    const header = `${log} ${token} ${ms(leaseMs)} ${ms(ttlMs)} ${owner === undefined ? 0 : 1} ${RELAY_TAKEOVER_SKIP}`;
    const reply = asArray(await this.claims.add(this.metaKey(streamId), [header, owner ?? '']));
    const status = text(reply[0]);
    if (status !== 'created' && status !== 'takenOver') return { status: status as 'held' | 'ended' | 'forbidden' };
    const lease: RelayLease = { streamId, log: text(reply[1]), token, epoch: Number(reply[2]), leaseMs, ttlMs };
    const lastSeq = Number(reply[3]);
    this.adopt(lease, owner, lastSeq, status === 'takenOver' ? Number(reply[6]) : 0);
    if (status === 'created') return { status, lease };
    return Number(reply[4]) === 1 ? { status, lease, lastSeq, resume: text(reply[5]) } : { status, lease, lastSeq };
  }

  /** Starts serving `lease`'s log from memory to this instance's readers. */
  private adopt(lease: RelayLease, owner: string | undefined, lastSeq: number, skipNext: number): void {
    this.sweep();
    const local: LocalLog = {
      log: lease.log,
      token: lease.token,
      epoch: lease.epoch,
      owner,
      lastSeq,
      shownSeq: lastSeq,
      skipNext,
      refused: 0,
      ended: false,
      leased: true,
      window: [],
      windowBytes: 0,
      writtenAt: Date.now(),
      leaseMs: lease.leaseMs,
      queue: Promise.resolve(),
      writing: 0,
      written: () => {
        local.writing--;
      },
      writeFailed: () => {
        local.writing--;
        local.failures++;
      },
      failures: 0,
      followed: true,
      seenAt: undefined,
      seenTtl: 0,
      keys: this.keys(lease.streamId),
      appendHeader: this.appendHeader(lease),
    };
    this.locals.set(lease.streamId, local);
    this.notify(lease.streamId);
  }

  /** The local log `lease` writes, if this instance still serves it. */
  private localOf(lease: RelayLease): LocalLog | undefined {
    const local = this.locals.get(lease.streamId);
    return local && local.token === lease.token ? local : undefined;
  }

  /** A local log that can serve reads: written by this instance within its lease, or ended. */
  private servingLocal(streamId: string): LocalLog | undefined {
    const local = this.locals.get(streamId);
    if (!local) return undefined;
    if (local.ended || Date.now() - local.writtenAt < local.leaseMs) return local;
    this.forget(streamId, local);
    return undefined;
  }

  /** Drops local logs whose producer stopped writing without a word (its lease lapsed), at most once a second. */
  private sweep(): void {
    const now = Date.now();
    if (now - this.sweptAt < 1_000) return;
    this.sweptAt = now;
    for (const [streamId, local] of this.locals) if (!local.ended && now - local.writtenAt >= local.leaseMs) this.forget(streamId, local);
  }

  /** Stops serving a local log from memory: its readers follow Redis from now on, and so does its last read. */
  private forget(streamId: string, local: LocalLog): void {
    if (this.locals.get(streamId) !== local) return;
    this.locals.delete(streamId);
    // Best effort: a producer of this log still running here counts from its own start when this is lost.
    if (local.seenAt !== undefined && !local.ended) this.writeSeen(streamId, local.seenAt, local.seenTtl).catch(() => undefined);
    const watchers = this.watchers.get(streamId);
    if (!watchers) return;
    for (const watcher of watchers) this.followRemote(streamId, watcher);
    this.notify(streamId);
  }

  private lingerThenForget(streamId: string, local: LocalLog, ttlMs: number): void {
    const timer = setTimeout(() => this.forget(streamId, local), Math.min(ttlMs, LINGER_MS));
    (timer as { unref?: () => void }).unref?.();
  }

  /** Runs `write` after the earlier writes of the same log; a write queued before a failure fails too. */
  private queued<T>(lease: RelayLease, write: () => Promise<T>): Promise<T> {
    const local = this.localOf(lease);
    if (!local) return write();
    const failuresBefore = local.failures;
    // Nothing in flight (the producer's usual case: one append at a time): it goes at once.
    const result =
      local.writing === 0
        ? write()
        : local.queue.then(() => {
            if (local.failures !== failuresBefore) throw new Error('relay: an earlier append of this stream failed; append again, in order.');
            return write();
          });
    local.writing++;
    local.queue = result.then(local.written, local.writeFailed);
    return result;
  }

  /** The start of the append script's header for `lease`: its token, epoch and settings (see `APPEND`). */
  private appendHeader(lease: RelayLease): string {
    return `${leaseArg(lease)} ${ms(lease.leaseMs)} ${ms(lease.ttlMs)} ${this.settings.maxEntries} ${this.settings.maxBytes}`;
  }

  /** Shows `events` to this instance's readers before they are stored, numbered as they will be (see `RelayStore.offer`). */
  offer(lease: RelayLease, events: readonly RelayEvent[]): void {
    const local = this.localOf(lease);
    if (!local || local.ended || events.length === 0) return;
    if (local.refused > 0 || local.shownSeq - local.lastSeq + events.length > RELAY_TAKEOVER_SKIP) {
      // Too far ahead of what is stored: these, and all that follow them, are shown once stored.
      local.refused += events.length;
      return;
    }
    const first = local.shownSeq + 1 + (local.shownSeq === local.lastSeq ? local.skipNext : 0);
    const entries: RelayLogEntry[] = [];
    for (let i = 0; i < events.length; i++) entries.push(logEntry(first + i, events[i]!.data, events[i]!.event, false));
    remember(local, entries, this.settings.localWindow);
    local.shownSeq = first + events.length - 1;
    this.notify(lease.streamId);
  }

  append(lease: RelayLease, events: readonly RelayEvent[], resume?: string): Promise<number> {
    return this.queued(lease, () => (events.length === 0 ? this.appendNothing(lease) : this.appendEntries(lease, events, resume)));
  }

  /** An append of no entries: renews the lease and answers the last seq. */
  private async appendNothing(lease: RelayLease): Promise<number> {
    const local = this.localOf(lease);
    if (!(await this.renew(lease))) throw new RelayLeaseLostError(lease.streamId);
    return local?.lastSeq ?? (await this.state(lease.streamId))?.lastSeq ?? 0;
  }

  /** The append script's call, and what its answer means (no async frame: this runs once per append). */
  private appendEntries(lease: RelayLease, events: readonly RelayEvent[], resume: string | undefined): Promise<number> {
    const local = this.localOf(lease);
    const expected = local ? String(local.lastSeq) : '';
    const header = `${local?.appendHeader ?? this.appendHeader(lease)} ${events.length} ${expected}${resume === undefined ? '' : `+${resume}`}`;
    const args: string[] = [header];
    for (let i = 0; i < events.length; i++) args.push(entryArgument(events[i]!.data, events[i]!.event, false));
    const answer = (reply: unknown): number => {
      const [seqReply, receivers] = asArray(reply);
      const seq = Number(seqReply);
      if (seq === -2) throw new RelayLogFullError('maxEntries', this.settings.maxEntries);
      if (seq === -3) throw new RelayLogFullError('maxBytes', this.settings.maxBytes);
      if (seq < 0) return this.lost(lease);
      if (local && this.localOf(lease) === local) {
        local.followed = Number(receivers) > 0;
        this.stored(lease.streamId, local, events, seq);
      }
      return seq;
    };
    // A stream no other instance follows waits for the loop's next turn, gathered: its readers here were shown it.
    return this.appends.add(local?.keys[0] ?? this.metaKey(lease.streamId), args, local?.followed ?? true).then(answer);
  }

  /** Records that `events` were stored up to `seq`: those not shown yet (refused offers, or no offer) are shown now. */
  private stored(streamId: string, local: LocalLog, events: readonly RelayEvent[], seq: number): void {
    const first = seq - events.length + 1;
    if (first !== nextStoredSeq(local) || (local.shownSeq > local.lastSeq && local.shownSeq < first - 1)) {
      this.forget(streamId, local);
      return;
    }
    local.skipNext = 0;
    local.lastSeq = seq;
    local.writtenAt = Date.now();
    const from = Math.max(first, local.shownSeq + 1);
    if (from > seq) return;
    remember(local, events.slice(from - first).map((event, i) => logEntry(from + i, event.data, event.event, false)), this.settings.localWindow);
    local.refused = Math.max(0, local.refused - (seq - from + 1));
    local.shownSeq = seq;
    this.notify(streamId);
  }

  async renew(lease: RelayLease): Promise<boolean> {
    const renewed = Number(await this.run(RENEW, lease.streamId, [leaseArg(lease), ms(lease.leaseMs), ms(lease.ttlMs)])) === 1;
    const local = this.localOf(lease);
    if (renewed && local) local.writtenAt = Date.now();
    if (!renewed && local) this.forget(lease.streamId, local);
    return renewed;
  }

  end(lease: RelayLease, event: RelayEvent, ttlMs: number): Promise<number> {
    return this.queued(lease, async () => {
      const local = this.localOf(lease);
      const args = [leaseArg(lease), ms(ttlMs), this.publish, this.channel(lease.streamId), entryArgument(event.data, event.event, true)];
      const seq = Number(await this.run(END, lease.streamId, args));
      if (seq < 0) return this.lost(lease);
      // Entries shown and never stored (a full log), or numbering not as expected: the readers read Redis from now on.
      if (local && this.localOf(lease) === local && (seq !== nextStoredSeq(local) || local.shownSeq !== local.lastSeq)) this.forget(lease.streamId, local);
      if (local && this.localOf(lease) === local) {
        remember(local, [logEntry(seq, event.data, event.event, true)], this.settings.localWindow);
        local.lastSeq = seq;
        local.shownSeq = seq;
        local.skipNext = 0;
        local.ended = true;
        local.leased = false;
        this.notify(lease.streamId);
        this.lingerThenForget(lease.streamId, local, ttlMs);
      }
      return seq;
    });
  }

  async release(lease: RelayLease): Promise<void> {
    const local = this.localOf(lease);
    if (local) this.forget(lease.streamId, local);
    await this.run(RELEASE, lease.streamId, [leaseArg(lease), this.publish, this.channel(lease.streamId)]);
  }

  private lost(lease: RelayLease): never {
    const local = this.localOf(lease);
    if (local) this.forget(lease.streamId, local);
    throw new RelayLeaseLostError(lease.streamId);
  }

  async state(streamId: string): Promise<RelayLogState | undefined> {
    const local = this.servingLocal(streamId);
    if (local) return { log: local.log, lastSeq: local.lastSeq, ended: local.ended, leased: local.leased, owner: local.owner };
    const page = await this.readRemote(streamId, 0, 0);
    if (!page) return undefined;
    const { log, lastSeq, ended, leased, owner } = page;
    return { log, lastSeq, ended, leased, owner };
  }

  /**
   * From memory when it holds the page; otherwise one script, which also
   * records the read when asked (`seen`). A stream followed here whose change
   * channel is not subscribed yet is read once it is (at most `blockMs`
   * later): every change after the read is then notified, so the
   * subscription's answer needs no second read.
   */
  async read(streamId: string, afterSeq: number, limit: number, seen?: RelayReadSeen): Promise<RelayPage | undefined> {
    const page = this.readNow(streamId, afterSeq, limit);
    if (page) return page;
    const subscribing = this.remotes.has(streamId) ? this.feeds.whenSubscribed(this.channel(streamId)) : undefined;
    if (subscribing) await this.subscribedOrLate(streamId, subscribing);
    const local = this.servingLocal(streamId);
    const read = await this.readRemote(streamId, afterSeq, Math.max(1, limit), seen);
    const window = this.remotes.get(streamId);
    if (read && window && !local) takePage(window, read);
    return read;
  }

  /** A page from memory: the window of a stream produced here, or of one followed here; `undefined` when it does not reach. */
  readNow(streamId: string, afterSeq: number, limit: number): RelayPage | undefined {
    const local = this.servingLocal(streamId);
    return local ? localPage(local, afterSeq, limit) : this.remoteWindowPage(streamId, afterSeq, limit);
  }

  /** Waits until `subscribed` (the change channel of `streamId` is subscribed, or failed); after `blockMs`, marks its window read too early. */
  private async subscribedOrLate(streamId: string, subscribed: Promise<void>): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, this.settings.blockMs, true)));
    const tooLate = await Promise.race([subscribed.then(() => false), late]);
    clearTimeout(timer);
    const window = this.remotes.get(streamId);
    if (tooLate && window) window.readUnsubscribed = true;
  }

  private remoteWindowPage(streamId: string, afterSeq: number, limit: number): RelayPage | undefined {
    const window = this.remotes.get(streamId);
    return window && limit > 0 ? remotePage(window, afterSeq, limit) : undefined;
  }

  private async readRemote(streamId: string, afterSeq: number, limit: number, seen?: RelayReadSeen): Promise<RelayPage | undefined> {
    const args: Array<string | number> = [Math.max(0, Math.floor(afterSeq)), Math.floor(limit)];
    if (seen) args.push(Date.now(), ms(seen.ttlMs), seen.owner === undefined ? '0' : `1${seen.owner}`);
    const reply = asArray(await this.run(READ, streamId, args));
    if (reply.length === 0) return undefined;
    const raws = asArray(reply[6]);
    const entries: RelayLogEntry[] = [];
    for (let i = 0; i < raws.length; i++) entries.push(storedEntry(asArray(raws[i])));
    const page: { -readonly [K in keyof RelayPage]: RelayPage[K] } = {
      log: text(reply[0]),
      lastSeq: Number(reply[1]),
      ended: Number(reply[2]) === 1,
      leased: Number(reply[3]) === 1,
      owner: Number(reply[4]) === 1 ? text(reply[5]) : undefined,
      entries,
    };
    if (Number(reply[7]) === 1) page.seen = true;
    return page;
  }

  changes(streamId: string): Observable<void> {
    return new Observable<void>((subscriber) => {
      const watcher: Watcher = { next: () => subscriber.next(), error: (error) => subscriber.error(error) };
      let set = this.watchers.get(streamId);
      if (!set) this.watchers.set(streamId, (set = new Set()));
      set.add(watcher);
      if (!this.servingLocal(streamId)) this.followRemote(streamId, watcher);
      this.startPoking();
      return () => {
        watcher.stopRemote?.();
        set.delete(watcher);
        if (set.size === 0 && this.watchers.get(streamId) === set) {
          this.watchers.delete(streamId);
          this.remotes.delete(streamId);
        }
      };
    });
  }

  /** Tells `watcher` of the changes Redis publishes on `streamId` (the stream is produced elsewhere). */
  private followRemote(streamId: string, watcher: Watcher): void {
    if (watcher.stopRemote) return;
    const channel = this.channel(streamId);
    if (!this.remotes.has(streamId)) this.remotes.set(streamId, { confirmed: undefined, entries: [], wokenAt: Date.now() });
    // Reads wait for the subscription (see `read`): only one that could not wait leaves something to read again.
    watcher.subscribed = () => {
      if (this.remotes.get(streamId)?.readUnsubscribed === true) watcher.next();
    };
    watcher.stopRemote = this.feeds.watch(channel, watcher);
  }

  private notify(streamId: string): void {
    const watchers = this.watchers.get(streamId);
    // forEach, not a copy: a watcher that leaves meanwhile is skipped, one that joins is told too (changes may be spurious).
    watchers?.forEach(tellNext);
  }

  /**
   * Readers that follow Redis read again once their stream has had no
   * notification for about `blockMs`, never longer (checked every quarter
   * `blockMs`): a stream that keeps publishing is not read for nothing (a
   * read per reader at each tick, all at once, is a burst of Redis calls
   * that delays every live event). On a Cluster, readers of a stream whose
   * slot moved to another node resume there.
   */
  private startPoking(): void {
    if (this.poke) return;
    const every = this.settings.blockMs / 4;
    this.poke = setInterval(() => {
      this.feeds.checkNodes();
      const now = Date.now();
      for (const [streamId, watchers] of this.watchers) {
        const window = this.remotes.get(streamId);
        if (!window || now - (window.wokenAt ?? -Infinity) < 3 * every) continue;
        window.wokenAt = now;
        for (const watcher of [...watchers]) if (watcher.stopRemote) watcher.next();
      }
    }, every);
    (this.poke as { unref?: () => void }).unref?.();
  }

  /**
   * A read of a stream this instance produces (or produced: one that ended
   * here, opened by a late reader) is kept in memory, where its producer asks
   * (`lastSeen`): no round trip per reader. Any other is written to Redis.
   */
  async touch(streamId: string, ttlMs: number): Promise<void> {
    const local = this.servingLocal(streamId);
    if (local) {
      local.seenAt = Date.now();
      local.seenTtl = ttlMs;
      return;
    }
    await this.writeSeen(streamId, Date.now(), ttlMs);
  }

  private async writeSeen(streamId: string, at: number, ttlMs: number): Promise<void> {
    await this.run(TOUCH, streamId, [at, ms(ttlMs)]);
  }

  /** The later of the read recorded in Redis (by any instance) and the one kept here. */
  async lastSeen(streamId: string): Promise<number | undefined> {
    const key = this.keys(streamId)[3]!;
    const value = await this.connection.send(key, ['GET', key]);
    const stored = value === null || value === undefined ? undefined : Number(text(value));
    const here = this.locals.get(streamId)?.seenAt;
    return here === undefined ? stored : stored === undefined ? here : Math.max(stored, here);
  }

  async close(): Promise<void> {
    if (this.poke) clearInterval(this.poke);
    this.poke = undefined;
    this.settings.unwatch?.();
    this.feeds.close();
  }
}

/** The seq the next entry Redis stores for `local` gets: after its last stored one, past a takeover's skip. */
function nextStoredSeq(local: LocalLog): number {
  return local.lastSeq + local.skipNext + 1;
}

/** The write scripts' first argument: the lease's token and epoch (see `relayScripts.ts`). */
function leaseArg(lease: RelayLease): string {
  return `${lease.token} ${lease.epoch}`;
}

/** An entry as `XRANGE` answers it, `[id, [field, value, ...]]` (fields `d` data, `e` event type, `end`), as a log entry. */
function storedEntry(raw: unknown[]): RelayLogEntry {
  const fields = asArray(raw[1]);
  let data = '';
  let event: string | undefined;
  let end = false;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const field = text(fields[i]);
    if (field === 'd') data = text(fields[i + 1]);
    else if (field === 'e') event = text(fields[i + 1]);
    else if (field === 'end') end = true;
  }
  return logEntry(Number.parseInt(text(raw[0]), 10), data, event, end);
}

/** A whole number of milliseconds, at least 1. */
function ms(value: number): number {
  return Math.max(1, Math.ceil(value));
}

function asArray(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (value === null || value === undefined) return [];
  throw new TypeError(`redisRelayStore: unexpected reply from Redis (${typeof value}).`);
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString();
  return String(value);
}
