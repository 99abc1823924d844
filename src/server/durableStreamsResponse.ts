import { asyncScheduler, firstValueFrom, from, fromEvent, map, merge, race, Subject, take, timer, type SchedulerLike } from 'rxjs';
import { namesEntry, shownAhead } from './relayPositions.js';
import { RELAY_TAKEOVER_SKIP, type RelayLogEntry, type RelayLogState, type RelayPage, type RelayStore } from './relayStore.js';

/** Options of `durableStreamsResponse` and `writeDurableStreams`. */
export interface DurableStreamsOptions {
  /** Where the relay keeps its logs: the store given to `createRelay`. */
  store: RelayStore;
  /** The relay stream id this request reads (taken from your route: `/streams/:id`). */
  streamId: string;
  /**
   * The reader (`start`'s `owner`): a stream recorded with an owner is served
   * only to that owner; to anyone else it does not exist (404).
   */
  owner?: string | undefined;
  /** How long a long-poll read waits for new entries before `204`, ms. Default: 30000. */
  longPollTimeout?: number | undefined;
  /** How long one SSE response lasts before it ends (the client reconnects at its offset, as the protocol says), ms. Default: 60000. */
  sseMaxDuration?: number | undefined;
  /**
   * How often a waiting SSE response checks that the stream's producer still
   * holds its lease (and sends a keep-alive `control` event), ms. A stream
   * whose producer died ends the response without `streamClosed`, so the
   * client reconnects and finds the log taken over. Default: 15000.
   */
  heartbeat?: number | undefined;
  /** The most entries one answer (or one SSE `data` event) carries. Default: 500. */
  pageSize?: number | undefined;
  /**
   * How long a store call may take before the request is answered `503`
   * (an SSE response ends), ms: a store whose connection is down may queue
   * commands instead of failing them. Default: 5000.
   */
  storeTimeout?: number | undefined;
  /** Timers of the waits. Default: `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/** Stream ids the relay accepts. */
const STREAM_ID = /^[A-Za-z0-9\-_.:]{1,200}$/;
/** Cursor intervals (protocol §10.1): 20 s from 2024-10-09T00:00:00Z. */
const CURSOR_EPOCH = Date.UTC(2024, 9, 9);
const CURSOR_INTERVAL = 20_000;

const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'cross-origin-resource-policy': 'cross-origin' } as const;
const READ_ONLY = 'GET, HEAD';

/**
 * Serves one relay log as a **Durable Streams** stream (the open protocol of
 * the `durable-streams` project), read-only, as a Web `Response` (Hono,
 * Next.js route handlers, Bun, Deno; `writeDurableStreams` for Node). The
 * log is an `application/json` stream whose messages are the relay's events,
 * `{ id, event?, data }` (the `id` is the SSE route's `<log>-<seq>`); the
 * terminal entry is the last message and closes the stream. Offsets are
 * `<log>_<seq>`, so an offset of another log of the same stream id (a
 * restarted process, an expired and reused id) is `410 Gone`, never a
 * position in the wrong text.
 *
 * - `HEAD`: the tail offset and whether the stream is closed.
 * - `GET ?offset=`: catch-up (`-1` or none: from the start; `now`: the tail).
 * - `GET ?offset=&live=long-poll`: waits up to `longPollTimeout` for entries.
 * - `GET ?offset=&live=sse`: `data` and `control` events, until the stream
 *   closes (or `sseMaxDuration`, or the producer's lease lapses: the response
 *   then ends without `streamClosed` and the client reconnects).
 * - Other methods: `405` (the relay's producers write through `createRelay`,
 *   under its fenced lease). Unknown ids, expired logs and other owners: `404`.
 *   A store that fails: `503` with `Retry-After`, or an SSE response ended
 *   without `streamClosed`.
 *
 * Reads pull: an SSE response reads the next page only when its body is
 * drained, so a reader that stops reading costs one page.
 *
 * ```text
 * log:       1:{c1}  2:{c2}  3:done(end)
 * GET ?offset=-1                →  [{id,data:c1},{id,data:c2},{id,event:'done',...}]  Stream-Closed: true
 * GET ?offset=<log>_1&live=sse  →  data [{c2}] control{…_2} data [{done}] control{…_3, streamClosed}
 * ```
 *
 * @example
 * ```ts
 * // Hono, next to the SSE route:
 * app.on(['GET', 'HEAD'], '/streams/:id', (c) => durableStreamsResponse(c.req.raw, { store, streamId: c.req.param('id') }));
 * ```
 */
export async function durableStreamsResponse(request: Request, options: DurableStreamsOptions): Promise<Response> {
  const settings = settingsOf(options);
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return new Response(null, { status: 405, headers: { allow: READ_ONLY, ...SECURITY_HEADERS } });
  }
  if (!STREAM_ID.test(options.streamId)) return notFound();
  let state: RelayLogState | undefined;
  try {
    state = await bounded(options.store.state(options.streamId), settings);
  } catch {
    return unavailable();
  }
  if (state === undefined || (state.owner !== undefined && state.owner !== options.owner)) return notFound();
  if (request.method === 'HEAD') {
    const headers = baseHeaders(offsetOf(state.log, state.lastSeq), 'no-store');
    if (state.ended) headers['stream-closed'] = 'true';
    return new Response(null, { status: 200, headers });
  }
  const query = new URL(request.url).searchParams;
  const live = query.get('live');
  const offsetParam = query.get('offset');
  if (live !== null && live !== 'long-poll' && live !== 'sse') return badRequest('live must be long-poll or sse');
  if (live !== null && offsetParam === null) return badRequest(`live=${live} needs an offset`);
  const position = positionOf(offsetParam ?? '-1', state);
  if (position === 'gone') return gone();
  if (position === undefined) return badRequest(NOT_HANDED_OUT);
  const cursor = live === null ? undefined : nextCursor(query.get('cursor'), settings.scheduler.now());
  try {
    if (live === 'sse') {
      // Checked before the 200: an offset the log does not hold is answered as the other modes answer it.
      const check = await readSlice(options, settings, position);
      if (check === 'gone') return gone();
      if (check === 'ahead') return badRequest(NOT_HANDED_OUT);
      return sseResponse(request, options, settings, state.log, position, cursor!);
    }
    if (live === 'long-poll') return await longPollResponse(request, options, settings, position, cursor!);
    return await catchUpResponse(request, options, settings, position, offsetParam === 'now');
  } catch {
    return unavailable();
  }
}

interface Settings {
  longPollTimeout: number;
  sseMaxDuration: number;
  heartbeat: number;
  pageSize: number;
  storeTimeout: number;
  scheduler: SchedulerLike;
}

/** `call`, or a rejection once it took longer than `storeTimeout`. */
function bounded<T>(call: Promise<T>, settings: Settings): Promise<T> {
  return firstValueFrom(
    race(
      from(call),
      timer(settings.storeTimeout, settings.scheduler).pipe(
        map((): T => {
          throw new Error('durableStreamsResponse: the store did not answer in time.');
        }),
      ),
    ),
  );
}

function settingsOf(options: DurableStreamsOptions): Settings {
  if (typeof options !== 'object' || options === null) throw new TypeError('durableStreamsResponse: options must be an object with a store and a streamId.');
  const { store } = options;
  if (typeof store !== 'object' || store === null || typeof store.read !== 'function' || typeof store.changes !== 'function') {
    throw new TypeError('durableStreamsResponse: options.store must be a RelayStore (memoryRelayStore(), redisRelayStore(...)).');
  }
  if (typeof options.streamId !== 'string') throw new TypeError('durableStreamsResponse: options.streamId must be a string.');
  return {
    longPollTimeout: duration('longPollTimeout', options.longPollTimeout, 30_000),
    sseMaxDuration: duration('sseMaxDuration', options.sseMaxDuration, 60_000),
    heartbeat: duration('heartbeat', options.heartbeat, 15_000),
    pageSize: duration('pageSize', options.pageSize, 500),
    storeTimeout: duration('storeTimeout', options.storeTimeout, 5_000),
    scheduler: options.scheduler ?? asyncScheduler,
  };
}

function duration(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) {
    throw new RangeError(`durableStreamsResponse: options.${name} must be a finite number, 1 or more.`);
  }
  return value;
}

const NOT_HANDED_OUT = 'the offset is not one this stream handed out';

/** Where an offset stands in the log: the `seq` after which to read, `'gone'` for another log's offset, `undefined` for nonsense. */
function positionOf(offset: string, state: RelayLogState): number | 'gone' | undefined {
  if (offset === '-1') return 0;
  if (offset === 'now') return state.lastSeq;
  const match = /^([A-Za-z0-9]{1,64})_(\d{16})$/.exec(offset);
  if (!match) return undefined;
  if (match[1] !== state.log) return 'gone';
  // Whether the log holds it (an owner's readers may be shown entries before they are stored) is for the read to say.
  return Number(match[2]);
}

/** The offset after entry `seq` of `log`: fixed width, so offsets of one log sort as their positions do. */
function offsetOf(log: string, seq: number): string {
  return `${log}_${String(seq).padStart(16, '0')}`;
}

/** A cursor for CDN collapsing: the current 20 s interval, always past the one the client sent. */
function nextCursor(sent: string | null, now: number): string {
  const current = Math.floor((now - CURSOR_EPOCH) / CURSOR_INTERVAL);
  const previous = sent !== null && /^\d{1,15}$/.test(sent) ? Number(sent) : -1;
  return String(previous >= current ? previous + 1 + Math.floor(Math.random() * 180) : current);
}

/** One page after `after`, its messages, and where it leaves the reader. */
interface Slice {
  log: string;
  messages: string[];
  next: number;
  upToDate: boolean;
  closed: boolean;
}

async function readSlice(options: DurableStreamsOptions, settings: Settings, after: number): Promise<Slice | 'gone' | 'ahead' | undefined> {
  // Read from the entry the offset names, so that one read also tells whether the log holds it.
  const page: RelayPage | undefined = await bounded(options.store.read(options.streamId, Math.max(0, after - 1), settings.pageSize), settings);
  if (page === undefined) return undefined;
  // An offset after an entry the log never stored (shown by an owner that died, whose numbers the takeover skipped) is gone.
  if (!page.ended && after > page.lastSeq) {
    // An offset the owner showed before storing it (read on its instance): nothing new yet while it lives; gone if it died.
    if (!options.store.offer || after > page.lastSeq + RELAY_TAKEOVER_SKIP) return 'ahead';
    if (!shownAhead(page, after)) return 'gone';
    return { log: page.log, messages: [], next: after, upToDate: true, closed: false };
  }
  if (!namesEntry(page, after)) return 'gone';
  const entries = page.entries.filter((entry) => entry.seq > after);
  const next = entries.length > 0 ? entries[entries.length - 1]!.seq : after;
  return {
    log: page.log,
    messages: entries.map((entry) => messageOf(page.log, entry)),
    next,
    upToDate: next >= page.lastSeq,
    closed: page.ended && next >= page.lastSeq,
  };
}

/** A log entry as a JSON message: `{ id, event?, data }`. */
function messageOf(log: string, entry: RelayLogEntry): string {
  const message: { id: string; event?: string; data: string } = { id: `${log}-${entry.seq}`, data: entry.data };
  if (entry.event !== undefined) message.event = entry.event;
  return JSON.stringify(message);
}

function sliceHeaders(slice: Slice, after: number, cursor: string | undefined): Record<string, string> {
  const headers = baseHeaders(offsetOf(slice.log, slice.next), 'no-store');
  headers.etag = `"${slice.log}:${after}:${slice.next}${slice.closed ? ':c' : ''}"`;
  if (slice.upToDate) headers['stream-up-to-date'] = 'true';
  if (slice.closed) headers['stream-closed'] = 'true';
  else if (cursor !== undefined) headers['stream-cursor'] = cursor;
  return headers;
}

async function catchUpResponse(request: Request, options: DurableStreamsOptions, settings: Settings, after: number, now: boolean): Promise<Response> {
  const slice = await readSlice(options, settings, after);
  if (slice === undefined) return notFound();
  if (slice === 'gone') return gone();
  if (slice === 'ahead') return badRequest(NOT_HANDED_OUT);
  const headers = sliceHeaders(slice, after, undefined);
  if (now) delete headers.etag;
  else if (request.headers.get('if-none-match') === headers.etag) return new Response(null, { status: 304, headers });
  return new Response(`[${slice.messages.join(',')}]`, { status: 200, headers });
}

async function longPollResponse(request: Request, options: DurableStreamsOptions, settings: Settings, after: number, cursor: string): Promise<Response> {
  const watch = watchChanges(options, request.signal, settings.scheduler);
  try {
    const deadline = settings.scheduler.now() + settings.longPollTimeout;
    for (;;) {
      const slice = await readSlice(options, settings, after);
      if (slice === undefined) return notFound();
      if (slice === 'gone') return gone();
      if (slice === 'ahead') return badRequest(NOT_HANDED_OUT);
      if (slice.messages.length > 0) return new Response(`[${slice.messages.join(',')}]`, { status: 200, headers: sliceHeaders(slice, after, cursor) });
      const left = deadline - settings.scheduler.now();
      if (slice.closed || left <= 0 || request.signal.aborted) {
        const headers = sliceHeaders(slice, after, cursor);
        delete headers.etag;
        headers['stream-up-to-date'] = 'true';
        return new Response(null, { status: 204, headers });
      }
      if ((await watch.wait(left)) === 'failed') return unavailable();
    }
  } finally {
    watch.close();
  }
}

/** A `text/event-stream` body that reads a page whenever the client has drained the last one. */
function sseResponse(request: Request, options: DurableStreamsOptions, settings: Settings, log: string, start: number, cursor: string): Response {
  const encoder = new TextEncoder();
  const abort = new AbortController();
  request.signal.addEventListener('abort', () => abort.abort(), { once: true });
  const watch = watchChanges(options, abort.signal, settings.scheduler);
  const endAt = settings.scheduler.now() + settings.sseMaxDuration;
  let after = start;
  let first = true;
  const control = (fields: Record<string, unknown>) => `event: control\ndata:${JSON.stringify(fields)}\n\n`;
  const body = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      const finish = () => {
        watch.close();
        controller.close();
      };
      try {
        for (;;) {
          const slice = await readSlice(options, settings, after);
          if (slice === undefined || slice === 'gone' || slice === 'ahead' || slice.log !== log) return finish();
          if (slice.messages.length > 0 || slice.closed || first) {
            first = false;
            let frames = '';
            if (slice.messages.length > 0) frames += `event: data\ndata:[${slice.messages.join(',\ndata:')}]\n\n`;
            after = slice.next;
            const offset = offsetOf(log, slice.next);
            frames += slice.closed
              ? control({ streamNextOffset: offset, streamClosed: true, upToDate: true })
              : control({ streamNextOffset: offset, streamCursor: cursor, ...(slice.upToDate ? { upToDate: true } : {}) });
            controller.enqueue(encoder.encode(frames));
            if (slice.closed) finish();
            return;
          }
          const left = endAt - settings.scheduler.now();
          if (left <= 0 || abort.signal.aborted) return finish();
          const woke = await watch.wait(Math.min(left, settings.heartbeat));
          if (woke === 'failed') return finish();
          if (woke === 'timeout') {
            const state = await bounded(options.store.state(options.streamId), settings);
            // The producer died (lease lapsed, no terminal entry): end here, the client reconnects and finds it taken over.
            if (state === undefined || state.log !== log || (!state.leased && !state.ended)) return finish();
            controller.enqueue(encoder.encode(control({ streamNextOffset: offsetOf(log, after), streamCursor: cursor, upToDate: true })));
            return;
          }
        }
      } catch {
        // A store fault: end without streamClosed; the client resumes at its offset.
        finish();
      }
    },
    cancel: () => {
      abort.abort();
      watch.close();
    },
  });
  const headers: Record<string, string> = {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no',
    ...SECURITY_HEADERS,
  };
  return new Response(body, { status: 200, headers });
}

/**
 * The store's change notifications for one stream, watched from before the
 * first read (so a change between a read and the wait is not lost).
 */
function watchChanges(options: DurableStreamsOptions, signal: AbortSignal, scheduler: SchedulerLike) {
  let changed = false;
  let failed = false;
  const wake = new Subject<void>();
  const subscription = options.store.changes(options.streamId).subscribe({
    next: () => {
      changed = true;
      wake.next();
    },
    error: () => {
      failed = true;
      wake.next();
    },
  });
  return {
    /** Resolves when the stream may have changed, the store failed, `ms` passed or `signal` aborted. */
    async wait(ms: number): Promise<'changed' | 'failed' | 'timeout'> {
      if (!changed && !failed && !signal.aborted) {
        await firstValueFrom(merge(wake, timer(ms, scheduler), fromEvent(signal, 'abort')).pipe(take(1), map(() => undefined)));
      }
      if (failed) return 'failed';
      const result = changed ? 'changed' : 'timeout';
      changed = false;
      return result;
    },
    close: () => subscription.unsubscribe(),
  };
}

function baseHeaders(offset: string, cacheControl: string): Record<string, string> {
  return { 'content-type': 'application/json', 'stream-next-offset': offset, 'cache-control': cacheControl, ...SECURITY_HEADERS };
}

function notFound(): Response {
  return new Response(null, { status: 404, headers: { ...SECURITY_HEADERS } });
}

function badRequest(why: string): Response {
  return new Response(`durable streams: ${why}.`, { status: 400, headers: { 'content-type': 'text/plain', ...SECURITY_HEADERS } });
}

function unavailable(): Response {
  return new Response(null, { status: 503, headers: { 'retry-after': '1', ...SECURITY_HEADERS } });
}

/** 410: an offset of another log of this stream id, or after an entry the log never stored. */
function gone(): Response {
  return new Response(null, { status: 410, headers: { ...SECURITY_HEADERS } });
}
