import {
  asyncScheduler,
  concatMap,
  defer,
  filter,
  finalize,
  from,
  interval,
  mergeMap,
  NEVER,
  take,
  takeUntil,
  tap,
  type Observable,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { assertDuration, assertFunction } from '../internal/validate.js';
import { streamStartOf } from '../streamStart.js';
import { memoryRelayStore } from './memoryRelayStore.js';
import type { LegacyRelayStore as RelayStore } from './legacyRelayStore.js';
import type { RelayEntry, RelayEvent } from './relayStore.js';
import { defaultErrorEvent, DEFAULT_HEARTBEAT, toServerSentEvents } from './toServerSentEvents.js';

/** Options of `createRelay`; every field is optional. */
export interface RelayOptions {
  /** Where the events are kept. Default: `memoryRelayStore()` (one process). */
  store?: RelayStore | undefined;
  /** How long a stream's log lives from its start, ms. Default: 600000 (10 minutes). */
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
  /** The scheduler of the heartbeat and the abandonment checks. Default: `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/** How `start` stores each value. Default: `JSON.stringify(value)` as a plain data event. */
export type ToRelayEvent<T> = (value: T) => RelayEvent;

/** A resumable relay: see `createRelay`. */
export interface Relay {
  /**
   * Claims `streamId` and subscribes to `source` (the provider stream),
   * detached from any client connection, storing every value. Resolves to
   * `false`, without subscribing, when the id is already taken (here or, with
   * a shared store, on another instance).
   */
  start<T>(streamId: string, source: Observable<T>, toEvent?: ToRelayEvent<T>): Promise<boolean>;
  /** Whether `streamId` is known and not expired: answer 204 (nothing to resume) when it is not. */
  has(streamId: string): Promise<boolean>;
  /**
   * The SSE frames of `streamId` after `lastEventId` (the client's
   * `Last-Event-ID` header; all of them when it has none), live until the
   * stream ends. Hand them to `writeServerSentEvents` or
   * `serverSentEventsResponse`.
   */
  frames(streamId: string, lastEventId?: string | null): Observable<string>;
  /**
   * The stored events of `streamId` after `lastEventId`, live until the end
   * (the terminal entry is the last one): for frameworks that write SSE
   * themselves, such as NestJS `@Sse()` (map each to `{ id, type: event, data }`).
   * Errors with `RelayStreamNotFoundError` for an unknown or expired stream.
   */
  events(streamId: string, lastEventId?: string | null): Observable<RelayEntry>;
  /** Aborts every provider request this instance started (for a shutdown). */
  stop(): void;
}

const NAME = 'createRelay';
/** The terminal event of a stream whose provider request was aborted because no client was reading. */
const CANCELLED: RelayEvent = { event: 'cancelled', data: '{"reason":"no client read the stream for abandonAfter ms"}' };

/**
 * The backend half of a resumable stream. The provider request runs detached
 * from the browser's connection; every event goes into a store under the
 * stream's id with its position as the SSE `id`. A browser that reconnects
 * with `Last-Event-ID`, to this instance or (with `redisRelayStore`) another,
 * receives exactly the rest, and the provider is never asked twice. When no
 * client has read a stream for `abandonAfter`, its provider request is aborted.
 *
 * A restart on the provider hop (a `retryWithBackoff` before the relay that
 * sent a fresh request) is stored as a `restart` event, so that clients start
 * their snapshot over rather than append a second answer to the first
 * (`parseRelayedChunks` on the client reads it). The log ends with a `done`
 * event, or `error` (with name, message and retryable) or `cancelled`.
 *
 * ```text
 * provider:   --a--b--c--d--|
 * client 1:   --a--b-x                  (connection cut after id 2)
 * client 2:            (Last-Event-ID: 2)--c--d--done|
 * ```
 *
 * @example
 * ```ts
 * const relay = createRelay();
 * app.post('/chat/:id', async (req, res) => {
 *   await relay.start(req.params.id, fromChatCompletion({ apiKey, body: req.body }).pipe(untilDone(), retryWithBackoff()));
 *   writeServerSentEvents(res, relay.frames(req.params.id));
 * });
 * app.get('/chat/:id', async (req, res) => {
 *   if (!(await relay.has(req.params.id))) return res.status(204).end();
 *   writeServerSentEvents(res, relay.frames(req.params.id, req.get('last-event-id')));
 * });
 * ```
 */
export function createRelay(options: RelayOptions = {}): Relay {
  const {
    store = memoryRelayStore(),
    ttl = 600_000,
    ttlAfterEnd = 60_000,
    abandonAfter = 30_000,
    heartbeat = DEFAULT_HEARTBEAT,
    scheduler = asyncScheduler,
  } = options;
  assertFunction(`${NAME}: options.store.follow`, store?.follow);
  assertDuration(`${NAME}: options.ttl`, ttl);
  assertDuration(`${NAME}: options.ttlAfterEnd`, ttlAfterEnd);
  assertDuration(`${NAME}: options.abandonAfter`, abandonAfter, { allowInfinity: true });
  assertDuration(`${NAME}: options.heartbeat`, heartbeat, { allowInfinity: true });
  const producers = new Set<Subscription>();
  const checkEvery = Math.max(1, Math.floor(abandonAfter / 3));

  const produce = <T>(streamId: string, source: Observable<T>, toEvent: ToRelayEvent<T>) => {
    let stored = 0;
    let ending: RelayEvent = { event: 'done', data: '[DONE]' };
    const abandoned$ =
      abandonAfter === Infinity
        ? NEVER
        : interval(checkEvery, scheduler).pipe(
            mergeMap(() => store.lastSeen(streamId)),
            filter((seen) => seen !== undefined && Date.now() - seen >= abandonAfter),
            take(1),
            tap(() => (ending = CANCELLED)),
          );
    const subscription = source
      .pipe(
        concatMap((value) => {
          const event = toEvent(value);
          const restart = stored > 0 && streamStartOf(value)?.resumed === false;
          stored++;
          return from(store.append(streamId, restart ? { ...event, event: 'restart' } : event));
        }),
        takeUntil(abandoned$),
      )
      .subscribe({
        complete: () => void store.end(streamId, ending, ttlAfterEnd).catch(() => undefined),
        error: (error: unknown) => void store.end(streamId, { event: 'error', data: defaultErrorEvent(error).data ?? '' }, ttlAfterEnd).catch(() => undefined),
      });
    producers.add(subscription);
    subscription.add(() => producers.delete(subscription));
  };

  return {
    async start<T>(streamId: string, source: Observable<T>, toEvent: ToRelayEvent<T> = defaultToEvent) {
      assertFunction(`${NAME}: start's toEvent`, toEvent);
      if (!(await store.create(streamId, ttl))) return false;
      await store.touch(streamId, ttl);
      produce(streamId, source, toEvent);
      return true;
    },
    has: (streamId) => store.has(streamId),
    events(streamId, lastEventId) {
      const touch = () => void store.touch(streamId, ttl).catch(() => undefined);
      return defer(() => {
        // While a client reads, the stream is not abandoned; the count starts when it leaves.
        touch();
        const keepAlive = abandonAfter === Infinity ? undefined : interval(checkEvery, scheduler).subscribe(touch);
        const afterId = lastEventId === null || lastEventId === '' ? undefined : lastEventId;
        return store.follow(streamId, afterId).pipe(
          finalize(() => {
            keepAlive?.unsubscribe();
            touch();
          }),
        );
      });
    },
    frames(streamId, lastEventId) {
      return this.events(streamId, lastEventId).pipe(
        toServerSentEvents({ heartbeat, scheduler, end: false, toEvent: ({ id, event, data }) => (event === undefined ? { id, data } : { id, event, data }) }),
      );
    },
    stop() {
      for (const producer of [...producers]) producer.unsubscribe();
    },
  };
}

function defaultToEvent(value: unknown): RelayEvent {
  return { data: typeof value === 'string' ? value : JSON.stringify(value) };
}
