import { asyncScheduler, defer, firstValueFrom, isObservable, map, race, ReplaySubject, timer, type Observable, type SchedulerLike } from 'rxjs';
import { assertDuration, assertFunction } from '../internal/validate.js';
import { memoryRelayStore } from './memoryRelayStore.js';
import { withPullHook, UNPACED, type FramesDemand, type PullFrames } from './pullFrames.js';
import { relayReporter, type RelayActivity } from './relayActivity.js';
import { relayErrorEvent } from './relayErrorEvent.js';
import { runRelayProducer, type RelayProducer } from './relayProducer.js';
import { readRelayLog } from './relayReader.js';
import { RelayBusyError, type RelayEntry, type RelayEvent, type RelayStore } from './relayStore.js';
import { assertRelayOwner, assertRelayStreamId, isRelayStreamId } from './relayStreamId.js';
import { DEFAULT_HEARTBEAT, toServerSentEvents } from './toServerSentEvents.js';

/** Options of `createRelay`; every field is optional. */
export interface RelayOptions {
  /** Where the events are kept. Default: `memoryRelayStore()` (one process). */
  store?: RelayStore | undefined;
  /** How long a stream's log lives after its last write (an append or a lease renewal), ms. Default: 600000 (10 minutes). */
  ttl?: number | undefined;
  /** How long a log is kept after the stream ended, ms, for late reconnects. Default: 60000. */
  ttlAfterEnd?: number | undefined;
  /**
   * With no client reading for this long (ms), the provider request is
   * aborted and the stream ends as `cancelled`. `Infinity` keeps it running
   * to the end. Default: 30000.
   */
  abandonAfter?: number | undefined;
  /** The `: ping` heartbeat to clients, ms (0 turns it off). Default: 15000. */
  heartbeat?: number | undefined;
  /**
   * How long a producer's lease lasts without a renewal, ms (it is renewed
   * every third of it). When an instance dies, its streams' readers end
   * within `leaseMs` plus one heartbeat, and another instance may take the
   * streams over. Default: 10000.
   */
  leaseMs?: number | undefined;
  /** Bytes a reader's client may leave unread before the reader is dropped (its response ends without a terminal event; the client resumes later). Default: 1048576 (1 MiB). */
  maxBufferedBytes?: number | undefined;
  /** Sends the provider's error messages to browsers. Default: `false`: `name`, `retryable` and a generic message only. */
  exposeErrors?: boolean | undefined;
  /** Sees every failure on the server: provider errors, store errors (also those retried), hooks' own are ignored. */
  onError?: ((error: unknown, context: { streamId: string | undefined }) => void) | undefined;
  /** Called (synchronously; its exceptions ignored) with what the relay did, for metrics and logs. */
  onActivity?: ((activity: RelayActivity) => void) | undefined;
  /** The scheduler of the heartbeat, lease renewals, reader polls and abandonment checks. Default: `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/** How `start` stores each value. Default: strings as they are, anything else as JSON, as a plain data event. */
export type ToRelayEvent<T> = (value: T) => RelayEvent;

/** A producer that can resume: called with the resume point the log recorded (`undefined` for a new log, or none recorded). */
export type RelaySourceFactory<T> = (resume: string | undefined) => Observable<T>;

/** Options of `start`; every field is optional. */
export interface RelayStartOptions<T> {
  /** Who may read the stream (a user id, a session): `has`, `frames` and `events` must be given the same. Default: anyone. */
  owner?: string | undefined;
  /** How each value is stored. Default: strings as they are, anything else as JSON, as a plain data event. */
  toEvent?: ToRelayEvent<T> | undefined;
  /**
   * The resume point a value carries, recorded with it in the log (the last
   * one a batch carries), handed to the source factory by a takeover: for a
   * Responses background response, the response id (`(chunk) => chunk.id`).
   * Default: none recorded.
   */
  resumePoint?: ((value: T) => string | undefined) | undefined;
}

/** Options of `has`, `frames` and `events`. */
export interface RelayReadOptions {
  /** The reader's owner, as `start` was given it. */
  owner?: string | undefined;
}

/** Options of `close`. */
export interface RelayCloseOptions {
  /** How long running producers may go on to their end before their leases are released, ms. Default: 0. */
  drainMs?: number | undefined;
}

/** A resumable relay: see `createRelay`. Its methods work unbound (`const { frames } = relay`). */
export interface Relay {
  /**
   * Claims `streamId` and subscribes to the source (the provider stream),
   * detached from any client connection, storing every value. Resolves
   * `true` when this instance now produces the stream: a new log, or a
   * takeover of a log whose producer died or handed over (a factory source is
   * called with the recorded resume point; a first value not marked
   * `resumed: true` is stored as a `restart` event). Resolves `false`,
   * without subscribing, when the stream runs elsewhere, has ended, or
   * belongs to another owner (answer 409 when `has(id, { owner })` is
   * `false`). Rejects with `RelayBusyError` when the store takes no more
   * streams or the relay is closing (answer 503 with `Retry-After`), and with
   * `TypeError` for a bad stream id, writing nothing. A function as third
   * argument is taken as `toEvent`.
   */
  start<T>(streamId: string, source: Observable<T> | RelaySourceFactory<T>, options?: RelayStartOptions<T> | ToRelayEvent<T>): Promise<boolean>;
  /** Whether `streamId` is known, not expired, and readable by `owner`: answer 204 or 404 before writing headers when it is not. */
  has(streamId: string, options?: RelayReadOptions): Promise<boolean>;
  /**
   * The SSE frames of `streamId` after `lastEventId` (the client's
   * `Last-Event-ID` header), live until the stream ends, with `: ping`
   * heartbeats. Hand them to `writeServerSentEvents` or
   * `serverSentEventsResponse` as they are: those pull them as fast as the
   * client reads (an operator in between loses that, see `PullFrames`).
   */
  frames(streamId: string, lastEventId?: string | null, options?: RelayReadOptions): PullFrames;
  /**
   * The stored events of `streamId` after `lastEventId`, live until the end
   * (the terminal entry, marked `end: true`, is the last one): for
   * frameworks that write SSE themselves (NestJS `@Sse()`). Pages are read
   * one after another, not paced by the client. Errors first with
   * `RelayStreamNotFoundError` for an unknown or expired stream and
   * `RelayForbiddenError` for another owner's.
   */
  events(streamId: string, lastEventId?: string | null, options?: RelayReadOptions): Observable<RelayEntry>;
  /**
   * Shuts this instance down: takes no new streams, lets running producers
   * finish for up to `drainMs`, then releases their leases at once (another
   * instance takes them over on the clients' reconnect, without waiting for a
   * lapse) and ends this instance's readers without a terminal event.
   */
  close(options?: RelayCloseOptions): Promise<void>;
  /** `close({ drainMs: 0 })`. */
  stop(): Promise<void>;
}

const NAME = 'createRelay';

/**
 * The backend half of a resumable stream. The provider request runs detached
 * from the browser's connection, under a lease on the stream's log that this
 * instance renews; every event goes into the store with an SSE id naming its
 * place in that log (`<log>-<seq>`). A browser that reconnects with
 * `Last-Event-ID`, to this instance or (with `redisRelayStore`) another,
 * receives exactly the rest, and the provider is never asked twice. When the
 * producing instance dies or shuts down, readers end without a terminal
 * event, and the next `start` for the id (the client's reconnect, on any
 * instance) takes the log over. When no client has read a stream for
 * `abandonAfter`, its provider request is aborted.
 *
 * A restart on the provider hop (a fresh request after a failure) is stored
 * as a `restart` event, so that clients start their snapshot over rather than
 * append a second answer to the first (`parseRelayedChunks` reads it). The
 * log ends with a `done` event, or `error` (name, a generic message,
 * `retryable: false`) or `cancelled`.
 *
 * ```text
 * provider:   --a--b--c--d--|
 * client 1:   --a--b-x                  (connection cut after <log>-2)
 * client 2:            (Last-Event-ID: <log>-2)--c--d--done|
 * owner dies: --a--b-X                  readers end (no done); the next start takes over: restart(a')--b'--...
 * ```
 *
 * @example
 * ```ts
 * const relay = createRelay({ store: memoryRelayStore() });
 * const started = await relay.start('answer-1', fromChatCompletion({ apiKey, body }).pipe(untilDone(), retryWithBackoff()), { owner: 'user-7' });
 * const frames = relay.frames('answer-1', lastEventId, { owner: 'user-7' });
 * ```
 */
export function createRelay(options: RelayOptions = {}): Relay {
  const {
    ttl = 600_000,
    ttlAfterEnd = 60_000,
    abandonAfter = 30_000,
    heartbeat = DEFAULT_HEARTBEAT,
    leaseMs = 10_000,
    maxBufferedBytes = 1024 * 1024,
    exposeErrors = false,
    scheduler = asyncScheduler,
  } = options;
  const ownStore = options.store === undefined;
  const store = options.store ?? memoryRelayStore();
  for (const method of ['claim', 'append', 'renew', 'end', 'release', 'state', 'read', 'changes', 'touch', 'lastSeen'] as const) {
    assertFunction(`${NAME}: options.store.${method}`, store?.[method]);
  }
  assertDuration(`${NAME}: options.ttl`, ttl);
  assertDuration(`${NAME}: options.ttlAfterEnd`, ttlAfterEnd);
  assertDuration(`${NAME}: options.abandonAfter`, abandonAfter, { allowInfinity: true });
  assertDuration(`${NAME}: options.heartbeat`, heartbeat, { allowInfinity: true });
  assertDuration(`${NAME}: options.leaseMs`, leaseMs);
  if (!(leaseMs >= 3)) throw new RangeError(`${NAME}: options.leaseMs must be 3 ms or more, got ${leaseMs}.`);
  assertDuration(`${NAME}: options.maxBufferedBytes`, maxBufferedBytes, { allowInfinity: true });
  if (typeof exposeErrors !== 'boolean') throw new TypeError(`${NAME}: options.exposeErrors must be a boolean.`);
  if (options.onError !== undefined) assertFunction(`${NAME}: options.onError`, options.onError);
  if (options.onActivity !== undefined) assertFunction(`${NAME}: options.onActivity`, options.onActivity);
  const reporter = relayReporter(options.onActivity, options.onError);
  const producers = new Set<RelayProducer>();
  /** Emits once the relay closed (after the drain), also to readers that open later. */
  const closing = new ReplaySubject<void>(1);
  let closed = false;
  const beats = heartbeat > 0 && heartbeat < Infinity;
  const pollMs = Math.max(10, Math.min(leaseMs / 2, beats ? heartbeat : Infinity));
  const touchEvery = abandonAfter === Infinity ? Infinity : Math.max(1, Math.floor(abandonAfter / 3));

  const events = (streamId: string, lastEventId?: string | null, readOptions: RelayReadOptions = {}, demand: FramesDemand = UNPACED): Observable<RelayEntry> =>
    defer(() => {
      assertRelayStreamId(`${NAME}: events`, streamId);
      const owner = assertRelayOwner(`${NAME}: events`, readOptions?.owner);
      return readRelayLog({
        store,
        streamId,
        lastEventId,
        owner,
        demand,
        maxBufferedBytes,
        pollMs,
        touchEvery,
        touchTtl: ttl,
        scheduler,
        reporter,
        closing,
      });
    });

  const relay: Relay = {
    async start<T>(streamId: string, source: Observable<T> | RelaySourceFactory<T>, startOptions?: RelayStartOptions<T> | ToRelayEvent<T>) {
      assertRelayStreamId(`${NAME}: start`, streamId);
      const { owner, toEvent, resumePoint } = startOptionsOf(startOptions);
      if (!isObservable(source) && typeof source !== 'function') throw new TypeError(`${NAME}: start's source must be an Observable or a function (resume) => Observable.`);
      if (closed) throw closingError();
      const claim = await store.claim(streamId, { leaseMs, ttlMs: ttl, owner });
      if (claim.status !== 'created' && claim.status !== 'takenOver') return false;
      const takeover = claim.status === 'takenOver';
      const resume = takeover ? claim.resume : undefined;
      if (closed) {
        await store.release(claim.lease).catch((error: unknown) => reporter.storeError('release', error, streamId));
        throw closingError();
      }
      const producer = runRelayProducer<T>({
        store,
        lease: claim.lease,
        source: isObservable(source) ? source : defer(() => source(resume)),
        toEvent,
        resumePoint,
        lastSeq: takeover ? claim.lastSeq : 0,
        takeover,
        ttlAfterEnd,
        abandonAfter,
        exposeErrors,
        scheduler,
        reporter,
      });
      producers.add(producer);
      void producer.stopped.then(() => producers.delete(producer));
      reporter.activity({ type: 'started', streamId, takeover, resumed: resume !== undefined });
      return true;
    },
    async has(streamId, readOptions = {}) {
      if (!isRelayStreamId(streamId)) return false;
      const owner = assertRelayOwner(`${NAME}: has`, readOptions?.owner);
      const state = await store.state(streamId);
      return state !== undefined && (state.owner === undefined || state.owner === owner);
    },
    events: (streamId, lastEventId, readOptions) => events(streamId, lastEventId, readOptions),
    frames: (streamId, lastEventId, readOptions) =>
      withPullHook((demand) =>
        events(streamId, lastEventId, readOptions, demand).pipe(
          toServerSentEvents<RelayEntry>({
            heartbeat,
            scheduler,
            end: false,
            // An entry is an event as it is (its `end` mark is not a field of the wire format).
            toEvent: (entry) => entry,
            toErrorEvent: (error) => relayErrorEvent(error, { expose: exposeErrors, final: false }),
          }),
        ),
      ),
    async close(closeOptions = {}) {
      const drainMs = assertDuration(`${NAME}: close's options.drainMs`, closeOptions?.drainMs ?? 0, { allowInfinity: true });
      closed = true;
      const running = [...producers];
      if (running.length > 0 && drainMs > 0) {
        const drained = Promise.all(running.map((producer) => producer.stopped)).then(() => undefined);
        await firstValueFrom(race(drainMs === Infinity ? defer(() => drained) : timer(drainMs, scheduler).pipe(map(() => undefined)), defer(() => drained)));
      }
      await Promise.all([...producers].map((producer) => producer.handOver()));
      closing.next();
      if (ownStore) await store.close?.();
    },
    stop: () => relay.close({ drainMs: 0 }),
  };
  return relay;
}

function closingError(): RelayBusyError {
  const error = new RelayBusyError(0);
  error.message = 'relay: this instance is shutting down; try again (on another instance).';
  return error;
}

function startOptionsOf<T>(options: RelayStartOptions<T> | ToRelayEvent<T> | undefined) {
  const given: RelayStartOptions<T> = typeof options === 'function' ? { toEvent: options } : (options ?? {});
  if (typeof given !== 'object') throw new TypeError(`${NAME}: start's options must be an object ({ owner, toEvent, resumePoint }).`);
  const owner = assertRelayOwner(`${NAME}: start`, given.owner);
  const toEvent = given.toEvent === undefined ? (defaultToEvent as ToRelayEvent<T>) : assertFunction<ToRelayEvent<T>>(`${NAME}: start's options.toEvent`, given.toEvent);
  const resumePoint = given.resumePoint === undefined ? undefined : assertFunction<(value: T) => string | undefined>(`${NAME}: start's options.resumePoint`, given.resumePoint);
  return { owner, toEvent, resumePoint };
}

function defaultToEvent(value: unknown): RelayEvent {
  return { data: typeof value === 'string' ? value : JSON.stringify(value) };
}
