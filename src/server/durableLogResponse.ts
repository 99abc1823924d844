import { bodyOf, isJsonType, mediaTypeOf } from './durableLogFormat.js';
import { DurableLogError, type DurableLogAppendResult, type DurableLogMeta, type DurableLogStore } from './durableLogStore.js';

/** Options of `durableLogResponse` and `writeDurableLog`. */
export interface DurableLogOptions {
  /** Where the streams live: `memoryDurableLogStore()` or `redisDurableLogStore(client)`. */
  store: DurableLogStore;
  /** The stream's key. Default: the request URL's path (`/v1/stream/chat-1`), which is also what `Stream-Forked-From` names. */
  path?: string | undefined;
  /** How long a long-poll read (and each SSE wait) waits for new data, ms. Default: 30000. */
  longPollTimeout?: number | undefined;
  /** How long one SSE response lasts before it ends (the client reconnects at its offset), ms. Default: 60000. */
  sseMaxDuration?: number | undefined;
  /** The largest request body accepted (`PUT`, `POST`); a larger one is `413` and nothing is written. Default: 67108864 (64 MiB). */
  maxBodyBytes?: number | undefined;
}

/** Cursor intervals (protocol §10.1): 20 s from 2024-10-09T00:00:00Z. */
const CURSOR_EPOCH = Date.UTC(2024, 9, 9);
const CURSOR_INTERVAL = 20_000;

const COMMON_HEADERS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, PUT, DELETE, HEAD, OPTIONS',
  'access-control-allow-headers':
    'content-type, authorization, If-None-Match, Stream-Seq, Stream-TTL, Stream-Expires-At, Stream-Closed, Producer-Id, Producer-Epoch, Producer-Seq, Stream-Forked-From, Stream-Fork-Offset, Stream-Fork-Sub-Offset',
  'access-control-expose-headers':
    'Stream-Next-Offset, Stream-Cursor, Stream-Up-To-Date, Stream-Closed, Producer-Epoch, Producer-Seq, Producer-Expected-Seq, Producer-Received-Seq, etag, content-type, content-encoding, vary',
  'x-content-type-options': 'nosniff',
  'cross-origin-resource-policy': 'cross-origin',
};

const OFFSET = /^(-1|now|\d+_\d+)$/;
const NON_NEGATIVE = /^(0|[1-9]\d*)$/;
const DIGITS = /^\d+$/;

/**
 * What the handler reads of a request, the same whether it came as a Web
 * `Request` (`durableLogResponse`) or as Node's `IncomingMessage`
 * (`writeDurableLog`, which so builds no `Request` and no `Response` per
 * call: in the relay bench's profile, building them and their abort
 * signals was a large part of the server's time).
 * @internal
 */
export interface DurableLogRequest {
  /** Upper-case. */
  readonly method: string;
  readonly url: URL;
  /** A header's value (`name` in lower case), repeated ones joined with `, `; `null` when absent. */
  header(name: string): string | null;
  /** The body, or `undefined` when it is larger than `max` bytes (read no further). */
  bytes(max: number): Promise<Uint8Array | undefined>;
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal;
}

/** What the handler answers: the status, every header (in lower case) and the body. @internal */
export interface DurableLogAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** A string body goes with `content-type: text/plain;charset=UTF-8` when the headers name none, as a `Response` does. */
  readonly body: string | Uint8Array | DurableLogEventBody | null;
}

/**
 * An SSE body as the handler writes it: each `next()` gives the text of the
 * events one read found (`undefined` at the end); `cancel()` stops it (the
 * client went away). The Web form wraps it in a `ReadableStream`; the Node
 * form writes the text on the response as the client drains it.
 * @internal
 */
export interface DurableLogEventBody {
  next(): Promise<string | undefined>;
  cancel(): void;
}

/** Whether an answer's body is an SSE body (not a whole one). @internal */
export function isEventBody(body: DurableLogAnswer['body']): body is DurableLogEventBody {
  return typeof body === 'object' && body !== null && !(body instanceof Uint8Array);
}

/**
 * A complete **Durable Streams** server as a Web `Request` → `Response`
 * handler (Hono, Next.js route handlers, Bun, Deno; `writeDurableLog` for
 * Node's `http`) over a `DurableLogStore`: `PUT` creates (content type,
 * `Stream-TTL`/`Stream-Expires-At`, `Stream-Closed`, forks with
 * `Stream-Forked-From`/`Stream-Fork-Offset`), `POST` appends (JSON mode,
 * `Stream-Seq`, idempotent producers `Producer-Id`/`-Epoch`/`-Seq`, close),
 * `DELETE`, `HEAD`, and `GET` reads: catch-up by `offset`, `live=long-poll`
 * and `live=sse`, with `ETag`/`If-None-Match` and CDN cursors. A store
 * that fails (Redis down) answers `503` with `Retry-After: 1`.
 *
 * ```text
 * PUT  /v1/stream/s  (text/plain) "ab"          → 201  Stream-Next-Offset: …_…02
 * POST /v1/stream/s  "c"  Producer-Id/Epoch/Seq → 200  (a retry: 204 duplicate)
 * GET  /v1/stream/s?offset=-1                   → 200  "abc"  Stream-Up-To-Date: true
 * GET  /v1/stream/s?offset=<tail>&live=sse      → event: control {streamNextOffset,…}  …data…
 * ```
 *
 * @example
 * ```ts
 * // Hono: every method of every stream under /v1/stream/
 * const store = memoryDurableLogStore();
 * app.all('/v1/stream/*', (c) => durableLogResponse(c.req.raw, { store }));
 * ```
 */
export async function durableLogResponse(request: Request, options: DurableLogOptions): Promise<Response> {
  const { status, headers, body } = await durableLogAnswer(webRequest(request), options);
  return new Response(isEventBody(body) ? eventStream(body) : (body as BodyInit | null), { status, headers });
}

/** An SSE body as a Web stream: one chunk per `next()`. */
function eventStream(body: DurableLogEventBody): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const text = await body.next();
      if (text === undefined) controller.close();
      else controller.enqueue(encoder.encode(text));
    },
    cancel: () => body.cancel(),
  });
}

/** A Web `Request` as the handler reads it. */
function webRequest(request: Request): DurableLogRequest {
  return {
    method: request.method.toUpperCase(),
    url: new URL(request.url),
    header: (name) => request.headers.get(name),
    bytes: (max) => bytesOf(request, max),
    signal: request.signal,
  };
}

/**
 * `durableLogResponse`'s work on a request read through `DurableLogRequest`:
 * the answer as plain data, for `durableLogResponse` to wrap in a `Response`
 * and for `writeDurableLog` to write on Node's response as it is.
 * @internal
 */
export async function durableLogAnswer(request: DurableLogRequest, options: DurableLogOptions): Promise<DurableLogAnswer> {
  const { store } = options;
  if (typeof store !== 'object' || store === null || typeof store.append !== 'function') {
    throw new TypeError('durableLogResponse: options.store must be a DurableLogStore (memoryDurableLogStore(), redisDurableLogStore(...)).');
  }
  const { url } = request;
  const path = options.path ?? url.pathname;
  const settings = {
    longPollTimeout: positive('longPollTimeout', options.longPollTimeout, 30_000),
    sseMaxDuration: positive('sseMaxDuration', options.sseMaxDuration, 60_000),
  };
  const maxBodyBytes = positive('maxBodyBytes', options.maxBodyBytes, 64 * 1024 * 1024);
  const declared = Number(request.header('content-length') ?? '0');
  if (declared > maxBodyBytes) return text(413, 'Request body too large');
  try {
    switch (request.method) {
      case 'OPTIONS':
        return answer(204);
      case 'PUT':
        return await create(request, url, path, store, maxBodyBytes);
      case 'POST':
        return await append(request, path, store, maxBodyBytes);
      case 'HEAD':
        return await head(path, store);
      case 'GET':
        return await read(request, url, path, store, settings);
      case 'DELETE': {
        const deleted = await store.delete(path);
        return deleted ? answer(204) : text(404, 'Stream not found');
      }
      default:
        return text(405, 'Method not allowed');
    }
  } catch (error) {
    if (error instanceof DurableLogError) return text(error.status, error.message);
    // The store failed (Redis unreachable, a script error): the client may retry, nothing was half-done.
    return text(503, 'The stream store is unavailable', { 'retry-after': '1' });
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) throw new RangeError(`durableLogResponse: options.${name} must be a finite number, 1 or more.`);
  return value;
}

function answer(status: number, headers: Record<string, string> = {}, body: DurableLogAnswer['body'] = null): DurableLogAnswer {
  return { status, headers: { ...COMMON_HEADERS, ...headers }, body };
}

function text(status: number, message: string, headers: Record<string, string> = {}): DurableLogAnswer {
  return answer(status, { 'content-type': 'text/plain', ...headers }, message);
}

/** A Web request's body, or `undefined` when it is larger than `max` bytes (read no further). */
async function bytesOf(request: Request, max: number): Promise<Uint8Array | undefined> {
  if (request.body === null) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    parts.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    body.set(part, at);
    at += part.length;
  }
  return body;
}

async function create(request: DurableLogRequest, url: URL, path: string, store: DurableLogStore, maxBodyBytes: number): Promise<DurableLogAnswer> {
  const forkedFrom = request.header('stream-forked-from') ?? undefined;
  const forkOffset = request.header('stream-fork-offset') ?? undefined;
  const forkSub = request.header('stream-fork-sub-offset');
  let contentType = request.header('content-type') ?? undefined;
  if (contentType === undefined || !/^[\w-]+\/[\w-]+/.test(contentType.trim())) contentType = forkedFrom === undefined ? 'application/octet-stream' : undefined;
  const ttl = request.header('stream-ttl');
  const expiresAt = request.header('stream-expires-at') ?? undefined;
  if (ttl !== null && expiresAt !== undefined) return text(400, 'Cannot specify both Stream-TTL and Stream-Expires-At');
  if (ttl !== null && !NON_NEGATIVE.test(ttl)) return text(400, 'Invalid Stream-TTL value');
  if (expiresAt !== undefined && Number.isNaN(new Date(expiresAt).getTime())) return text(400, 'Invalid Stream-Expires-At timestamp');
  if (forkOffset !== undefined && !/^\d+_\d+$/.test(forkOffset)) return text(400, 'Invalid Stream-Fork-Offset format');
  if (forkSub !== null) {
    if (forkedFrom === undefined) return text(400, 'Stream-Fork-Sub-Offset requires Stream-Forked-From');
    if (!NON_NEGATIVE.test(forkSub)) return text(400, 'Invalid Stream-Fork-Sub-Offset format');
  }
  const body = await request.bytes(maxBodyBytes);
  if (body === undefined) return text(413, 'Request body too large');
  const { created, meta } = await store.create(path, {
    contentType,
    ttlSeconds: ttl === null ? undefined : Number(ttl),
    expiresAt,
    closed: request.header('stream-closed') === 'true',
    initialData: body.length > 0 ? body : undefined,
    forkedFrom,
    forkOffset,
    forkSubOffset: forkSub === null ? undefined : Number(forkSub),
  });
  const headers: Record<string, string> = { 'content-type': meta.contentType ?? contentType ?? 'application/octet-stream', 'stream-next-offset': meta.nextOffset };
  if (created) headers.location = `${url.origin}${path}`;
  if (meta.closed) headers['stream-closed'] = 'true';
  return answer(created ? 201 : 200, headers);
}

async function append(request: DurableLogRequest, path: string, store: DurableLogStore, maxBodyBytes: number): Promise<DurableLogAnswer> {
  const id = request.header('producer-id');
  const epochText = request.header('producer-epoch');
  const seqText = request.header('producer-seq');
  const some = id !== null || epochText !== null || seqText !== null;
  const all = id !== null && epochText !== null && seqText !== null;
  if (some && !all) return text(400, 'All producer headers (Producer-Id, Producer-Epoch, Producer-Seq) must be provided together');
  if (all && id === '') return text(400, 'Invalid Producer-Id: must not be empty');
  if (all && (!DIGITS.test(epochText) || !Number.isSafeInteger(Number(epochText)))) return text(400, 'Invalid Producer-Epoch: must be a non-negative integer');
  if (all && (!DIGITS.test(seqText) || !Number.isSafeInteger(Number(seqText)))) return text(400, 'Invalid Producer-Seq: must be a non-negative integer');
  const producer = all ? { id, epoch: Number(epochText), seq: Number(seqText) } : undefined;
  const close = request.header('stream-closed') === 'true';
  const body = await request.bytes(maxBodyBytes);
  if (body === undefined) return text(413, 'Request body too large');
  const contentType = request.header('content-type') ?? undefined;
  if (body.length === 0 && !close) return text(400, 'Empty body');
  if (body.length > 0 && contentType === undefined) return text(400, 'Content-Type header is required');
  const result: DurableLogAppendResult = await store.append(path, body, { contentType, close, streamSeq: request.header('stream-seq') ?? undefined, producer });
  const producerHeaders = (seq: number): Record<string, string> => (producer === undefined ? {} : { 'producer-epoch': String(producer.epoch), 'producer-seq': String(seq) });
  switch (result.status) {
    case 'appended': {
      const out: Record<string, string> = { 'stream-next-offset': result.offset, ...producerHeaders(producer?.seq ?? 0) };
      if (result.closed) out['stream-closed'] = 'true';
      return answer(producer !== undefined && body.length > 0 ? 200 : 204, out);
    }
    case 'duplicate': {
      const out: Record<string, string> = producerHeaders(result.lastSeq);
      if (result.closed) out['stream-closed'] = 'true';
      if (result.closed || body.length === 0) out['stream-next-offset'] = result.offset;
      return answer(204, out);
    }
    case 'closed':
      // Closing a closed stream without a producer is idempotent; anything else is refused.
      if (body.length === 0 && producer === undefined) return answer(204, { 'stream-next-offset': result.offset, 'stream-closed': 'true' });
      return text(409, 'Stream is closed', { 'stream-closed': 'true', 'stream-next-offset': result.offset });
    case 'stale-epoch':
      return text(403, 'Stale producer epoch', { 'producer-epoch': String(result.currentEpoch) });
    case 'invalid-epoch-seq':
      return text(400, 'New epoch must start with sequence 0');
    case 'sequence-gap':
      return text(409, 'Producer sequence gap', { 'producer-expected-seq': String(result.expectedSeq), 'producer-received-seq': String(result.receivedSeq) });
  }
}

function etagOf(path: string, start: string, end: string, closed: boolean): string {
  return `"${Buffer.from(path).toString('base64')}:${start}:${end}${closed ? ':c' : ''}"`;
}

async function head(path: string, store: DurableLogStore): Promise<DurableLogAnswer> {
  const meta = await store.head(path);
  if (meta === undefined) return answer(404, { 'content-type': 'text/plain' });
  if (meta.gone) return answer(410, { 'content-type': 'text/plain' });
  const headers: Record<string, string> = { 'stream-next-offset': meta.nextOffset, 'cache-control': 'no-store' };
  if (meta.contentType !== undefined) headers['content-type'] = meta.contentType;
  if (meta.closed) headers['stream-closed'] = 'true';
  if (meta.ttlSeconds !== undefined) headers['stream-ttl'] = String(meta.ttlSeconds);
  if (meta.expiresAt !== undefined) headers['stream-expires-at'] = meta.expiresAt;
  headers.etag = etagOf(path, '-1', meta.nextOffset, meta.closed);
  return answer(200, headers);
}

/** A cursor for CDN collapsing: the current 20 s interval, always past the one the client sent. */
function cursorAfter(sent: string | null): string {
  const current = Math.floor((Date.now() - CURSOR_EPOCH) / CURSOR_INTERVAL);
  const previous = sent !== null && /^\d{1,15}$/.test(sent) ? Number(sent) : -1;
  return String(previous >= current ? previous + 1 + Math.floor(Math.random() * 180) : current);
}

async function read(
  request: DurableLogRequest,
  url: URL,
  path: string,
  store: DurableLogStore,
  settings: { longPollTimeout: number; sseMaxDuration: number },
): Promise<DurableLogAnswer> {
  const meta = await store.head(path);
  if (meta === undefined) return text(404, 'Stream not found');
  if (meta.gone) return text(410, 'Stream is gone');
  const query = url.searchParams;
  const offsets = query.getAll('offset');
  const offset = offsets[0];
  const live = query.get('live');
  const cursor = query.get('cursor');
  if (offset !== undefined) {
    if (offset === '') return text(400, 'Empty offset parameter');
    if (offsets.length > 1) return text(400, 'Multiple offset parameters not allowed');
    if (!OFFSET.test(offset)) return text(400, 'Invalid offset format');
  }
  if ((live === 'long-poll' || live === 'sse') && offset === undefined) return text(400, `${live === 'sse' ? 'SSE' : 'Long-poll'} requires offset parameter`);
  if (live === 'sse') return sse(request, path, store, offset === 'now' ? meta.nextOffset : offset!, cursor, meta, settings);
  if (offset === 'now' && live !== 'long-poll') {
    await store.read(path, meta.nextOffset); // a read: it renews the TTL
    const headers: Record<string, string> = { 'stream-next-offset': meta.nextOffset, 'stream-up-to-date': 'true', 'cache-control': 'no-store' };
    if (meta.contentType !== undefined) headers['content-type'] = meta.contentType;
    if (meta.closed) headers['stream-closed'] = 'true';
    return answer(200, headers, isJsonType(meta.contentType) ? '[]' : '');
  }
  const from = offset === 'now' ? meta.nextOffset : offset;
  let found = await store.read(path, from);
  if (found === undefined) return text(404, 'Stream not found');
  if (live === 'long-poll' && found.messages.length === 0 && from === found.meta.nextOffset) {
    if (found.meta.closed) return answer(204, { 'stream-next-offset': found.meta.nextOffset, 'stream-up-to-date': 'true', 'stream-closed': 'true' });
    const deadline = Date.now() + settings.longPollTimeout;
    for (let remaining = settings.longPollTimeout; remaining > 0 && !request.signal.aborted; remaining = deadline - Date.now()) {
      await store.waitForChange(path, from, remaining, request.signal);
      found = await store.read(path, from);
      if (found === undefined) return text(404, 'Stream not found');
      if (found.messages.length > 0 || found.meta.closed || found.meta.gone) break;
    }
    if (found.messages.length === 0) {
      const headers: Record<string, string> = { 'stream-next-offset': from, 'stream-up-to-date': 'true', 'stream-cursor': cursorAfter(cursor) };
      if (found.meta.closed) headers['stream-closed'] = 'true';
      return answer(204, headers);
    }
  }
  const { messages, meta: after } = found;
  const end = messages.at(-1)?.offset ?? after.nextOffset;
  const closedHere = after.closed && end === after.nextOffset;
  const headers: Record<string, string> = { 'stream-next-offset': end, 'stream-up-to-date': 'true' };
  if (after.contentType !== undefined) headers['content-type'] = after.contentType;
  if (live === 'long-poll') headers['stream-cursor'] = cursorAfter(cursor);
  if (closedHere) headers['stream-closed'] = 'true';
  headers.etag = etagOf(path, offset ?? '-1', end, closedHere);
  if (request.header('if-none-match') === headers.etag) return answer(304, { etag: headers.etag });
  return answer(200, headers, bodyOf(after.contentType, messages));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function sseEvent(event: string, payload: string): string {
  return `event: ${event}\n${payload.split(/\r\n|\r|\n/).map((line) => `data:${line}`).join('\n')}\n\n`;
}

function sse(
  request: DurableLogRequest,
  path: string,
  store: DurableLogStore,
  start: string,
  cursor: string | null,
  meta: DurableLogMeta,
  settings: { longPollTimeout: number; sseMaxDuration: number },
): DurableLogAnswer {
  const media = mediaTypeOf(meta.contentType);
  const base64 = !(media.startsWith('text/') || media === 'application/json');
  const json = media === 'application/json';
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  request.signal.addEventListener('abort', onAbort, { once: true });
  const deadline = Date.now() + settings.sseMaxDuration;
  let offset = start;
  let finished = false;
  /** After a read that reached the tail: wait for a change before the next read. */
  let waitFirst = false;
  const finish = () => {
    finished = true;
    request.signal.removeEventListener('abort', onAbort);
    return undefined;
  };
  const body: DurableLogEventBody = {
    // The events of one read go out as one piece (a data event and its control event: one write to the socket, not two).
    async next() {
      if (finished) return undefined;
      if (waitFirst) {
        waitFirst = false;
        const remaining = deadline - Date.now();
        if (remaining <= 0 || stop.signal.aborted) return finish();
        await store.waitForChange(path, offset, Math.min(settings.longPollTimeout, remaining), stop.signal);
        if (stop.signal.aborted || finished) return finish();
      }
      const found = await store.read(path, offset);
      if (finished) return undefined;
      if (found === undefined || found.meta.gone) return finish();
      const tail = found.meta.nextOffset;
      let events = '';
      // A control event follows every data event (protocol §5.8), so JSON catch-up parses message by message.
      const control = (at: string) => {
        offset = at;
        if (found.meta.closed && at === tail) {
          events += sseEvent('control', JSON.stringify({ streamNextOffset: at, streamClosed: true }));
          return true;
        }
        const fields: Record<string, string | boolean> = { streamNextOffset: at, streamCursor: cursorAfter(cursor) };
        if (at === tail) fields.upToDate = true;
        events += sseEvent('control', JSON.stringify(fields));
        return false;
      };
      for (const message of found.messages) {
        const payload = base64 ? Buffer.from(message.data).toString('base64') : json ? decoder.decode(bodyOf(meta.contentType, [message])) : decoder.decode(message.data);
        events += sseEvent('data', payload);
        if (control(message.offset)) {
          finish();
          return events;
        }
      }
      if (found.messages.length === 0 && control(tail)) {
        finish();
        return events;
      }
      waitFirst = offset === tail;
      return events;
    },
    cancel() {
      finished = true;
      stop.abort();
      request.signal.removeEventListener('abort', onAbort);
    },
  };
  const headers: Record<string, string> = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' };
  if (base64) headers['stream-sse-data-encoding'] = 'base64';
  return answer(200, headers, body);
}
