import { catchError, concatWith, defer, EMPTY, from, mergeMap, of, reduce, repeat, tap, throwError, type Observable } from 'rxjs';
import { HttpError, IdleTimeoutError, ParseError } from '../errors.js';
import { httpRequestOf, prepareStreamRequest, type StreamRequest, type TransportOptions } from '../transport/streamRequest.js';
import { decodeUtf8, excerpt, fetchBytes, idleTimeout, parseServerSentEvents, type EventSourceMessage } from '../transport/index.js';
import { assertObject } from '../internal/validate.js';
import { markStreamStart } from '../streamStart.js';
import { sourceUrlOf } from '../transport/sourceUrl.js';
import { chainState } from '../internal/retryChain.js';
import { assertOffsetMoves } from './durableOffsets.js';

/**
 * How `fromDurableStream` follows the stream once it has caught up:
 * `true` (default) by SSE, or by long-poll where the server has no SSE;
 * `'sse'` or `'long-poll'` only that way; `false` not at all (it completes
 * once caught up).
 */
export type DurableStreamLive = boolean | 'sse' | 'long-poll';

/** Options of `fromDurableStream`. */
export interface FromDurableStreamOptions extends TransportOptions {
  /**
   * The stream's URL: an http(s) URL (relative URLs resolve against the page
   * in a browser), or a function called on every request that returns one.
   */
  url: string | (() => string);
  /**
   * Where to start: an offset a server handed out earlier (a page reload that
   * kept it), `'-1'` for the start of the stream, `'now'` for its tail.
   * Default `'-1'`. A start at a kept offset marks the first value resumed.
   */
  offset?: string | undefined;
  /** How to follow the stream once caught up. Default `true` (SSE, else long-poll). */
  live?: DurableStreamLive | undefined;
}

const SOURCE = 'fromDurableStream';

/** Response headers of the protocol. */
const NEXT_OFFSET = 'stream-next-offset';
const UP_TO_DATE = 'stream-up-to-date';
const CLOSED = 'stream-closed';
const CURSOR = 'stream-cursor';
const SSE_ENCODING = 'stream-sse-data-encoding';

/**
 * Where one read stands: the offset after the last value it delivered, the
 * last cursor, and the token of its start marks. A subscription that ends in
 * an error, or completes (the server said the stream closed) while the
 * pipeline still waits for its end (`untilDone` then fails with
 * `StreamInterruptedError`), hands it to the next subscription of its retry chain
 * (`retryWithBackoff`'s resubscription), which continues from there; any
 * other subscription (a parallel or later one, another chain's, RxJS's own
 * `retry`) starts a read of its own.
 */
interface ReadChain {
  offset: string;
  cursor: string | undefined;
  token: object;
}

/** What a retry chain carries for this source: the read its last subscription left by failing or completing. */
interface ChainHandOver {
  failed: ReadChain | undefined;
}

/** One subscription's phase: catching up, then following by SSE or long-poll, then done. */
interface ReadState {
  chain: ReadChain;
  phase: 'catch-up' | 'sse' | 'long-poll' | 'done';
  /** The stream's content type, from the first catch-up answer. */
  contentType: string;
  /** Whether the next value is the subscription's first. */
  first: boolean;
  resumed: boolean;
}

/**
 * Reads any Durable Streams server (the open protocol of the
 * `durable-streams` project: a relay made with `durableStreamsHandler`, the
 * reference server `@durable-streams/server`, a hosted one): catch-up reads
 * from `offset` until the stream is up to date, then live tailing by SSE (or
 * long-poll where SSE is not available) until the stream is closed, then it
 * completes. Values: for an `application/json` stream, each message as
 * parsed; for a `text/*` stream, each piece of text; otherwise each piece of
 * bytes (`Uint8Array`). Relayed chat chunks (`application/json` messages
 * `{ event?, data }`) become chunks again with `parseRelayedChunks`.
 *
 * ```text
 * server:   [m1,m2] (up to date)  …  [m3]  (closed)
 * result:   -m1-m2-------------------m3----|
 * ```
 *
 * Exactly once, through faults: the offset moves only once a whole answer
 * (a catch-up or long-poll body, or SSE data up to its `control` event) was
 * delivered, so a connection cut in the middle of one is read again from its
 * start, never half. The source is cold: what a retry carries over lives in
 * the retry chain of `retryWithBackoff`, as with `fromServerSentEvents`. When
 * a subscription errors (or completes before the pipeline's end, so that
 * `untilDone` fails), `retryWithBackoff`'s next one continues from its
 * last offset and marks its first value `{ resumed: true, stream }` (see
 * `markStreamStart`), so `accumulateContent` continues the snapshot. Any
 * other subscription (two in parallel, one after another, another
 * subscriber's chain, RxJS's own `retry`) starts again at `options.offset`,
 * marked `{ resumed: false }` (or resumed, for a kept offset).
 *
 * The server's next offset is checked, not trusted: offsets are opaque but
 * sort lexicographically (`-1`, the start, below all), and the protocol makes
 * them strictly increasing as data is appended, so data always moves the
 * offset. An answer (catch-up, long-poll, or an SSE `control` event) whose
 * next offset is below the offset the read stood at, or equal to it while
 * it carries data, is inconsistent (a store under load once answered a
 * long-poll with data the client had and an older offset): none of its data
 * is emitted, the offset stays, and the read fails with the retryable
 * `InconsistentOffsetError`, so `retryWithBackoff` reads again from there
 * with backoff (a server that always does it ends the chain with that error
 * once its retries are spent). An answer without data at the same offset (a
 * long-poll that timed out, a keep-alive `control`) is fine; a read from
 * `now` takes whatever tail offset the server names.
 *
 * Errors: `HttpError` for a non-2xx answer (404: no such stream; 410: the
 * offset is gone; retryable for 408, 409, 425, 429, 5xx), `NetworkError`
 * when the connection fails or breaks off, `IdleTimeoutError` (keep
 * `idleTimeout` above the server's long-poll timeout, 30 s on the reference
 * server), `InconsistentOffsetError` (retryable) for a next offset that goes
 * back or data that does not move it, `ParseError` (not retryable) for an
 * answer that does not follow the protocol (no `Stream-Next-Offset`, JSON
 * that does not parse, a body past `maxEventSize` characters). Unsubscribing
 * aborts the request. Bad options throw `TypeError`/`RangeError` right here.
 *
 * @example
 * ```ts
 * fromDurableStream({ url: `https://streams.example.com/chat/${id}` }).pipe(
 *   parseRelayedChunks(),
 *   untilDone(),
 *   retryWithBackoff(),   // continues from the last offset: the rest of the answer
 *   accumulateContent(),
 * ).subscribe((snapshot) => render(snapshot.content));
 * ```
 */
export function fromDurableStream<T = unknown>(options: FromDurableStreamOptions): Observable<T> {
  assertObject(`${SOURCE}: options`, options);
  const url = sourceUrlOf(SOURCE, options.url);
  const start = offsetOf(options.offset);
  const live = liveOf(options.live);
  const request = prepareStreamRequest(SOURCE, options, { url: '', body: '', headers: {}, secrets: [] });
  // The key of this source's state in each retry chain (see internal/retryChain): cold, resumable.
  const key = {};

  return defer((): Observable<unknown> => {
    const { state: chains } = chainState<ChainHandOver>(key, () => ({ failed: undefined }));
    const chain = chains.failed ?? { offset: start, cursor: undefined, token: {} };
    const resumed = chains.failed !== undefined || (start !== '-1' && start !== 'now');
    chains.failed = undefined;
    const state: ReadState = { chain, phase: 'catch-up', contentType: '', first: true, resumed };
    return defer(() => oneRequest(state, request, url(), live)).pipe(
      repeat({ delay: () => (state.phase === 'done' ? EMPTY : of(0)) }),
      // Completing hands over too: a retry after it (untilDone found no end) continues from the offset, marked resumed.
      tap({ error: () => (chains.failed = chain), complete: () => (chains.failed = chain) }),
    );
  }) as Observable<T>;
}

/** One HTTP request of the subscription's current phase, emitting what its answer delivers. */
function oneRequest(state: ReadState, request: StreamRequest, base: string, live: DurableStreamLive): Observable<unknown> {
  const { chain } = state;
  const mode = state.phase === 'catch-up' ? undefined : state.phase;
  const url = new URL(base);
  if (chain.cursor !== undefined && mode !== undefined) url.searchParams.set('cursor', chain.cursor);
  if (mode !== undefined) url.searchParams.set('live', mode);
  url.searchParams.set('offset', chain.offset);
  let response: Response | undefined;
  const bytes = fetchBytes(
    () => httpRequestOf({ ...request, method: 'GET', url: url.href, headers: { Accept: mode === 'sse' ? 'text/event-stream' : '*/*' } }),
    { source: SOURCE, fetch: request.fetch, contentType: 'any', onResponse: (answer) => (response = answer) },
  ).pipe(idleTimeout(request.idleTimeout, { scheduler: request.scheduler, error: () => new IdleTimeoutError(request.idleTimeout, SOURCE) }));

  if (mode === 'sse') {
    const pending: unknown[] = [];
    const isSse = () => response !== undefined && mediaType(response) === 'text/event-stream';
    return bytes.pipe(
      // A server without SSE answers the read some other way (or refuses it): follow by long-poll then.
      mergeMap((piece) => (response === undefined || isSse() ? of(piece) : throwError(() => NO_SSE))),
      decodeUtf8(),
      parseServerSentEvents({ source: SOURCE, maxEventSize: request.maxEventSize }),
      mergeMap((event) => from(onServerSentEvent(state, event, pending, response!, request.secrets))),
      concatWith(defer(() => (isSse() ? EMPTY : throwError(() => NO_SSE)))),
      catchError((error: unknown) => {
        const refused = error === NO_SSE || (error instanceof HttpError && (error.status === 400 || error.status === 405 || error.status === 501));
        if (refused && live === true) {
          state.phase = 'long-poll';
          return EMPTY;
        }
        return throwError(() => (error === NO_SSE ? new ParseError(`${SOURCE}: the server answered a live=sse read without an event stream.`, '') : error));
      }),
    );
  }

  let size = 0;
  return bytes.pipe(
    reduce((body: Uint8Array[], piece: Uint8Array) => {
      size += piece.length;
      if (size > request.maxEventSize) throw new ParseError(`${SOURCE}: one answer passed maxEventSize (${request.maxEventSize}).`, '');
      if (piece.length > 0) body.push(piece);
      return body;
    }, []),
    mergeMap((body) => from(onAnswer(state, response!, concat(body), live, request.secrets))),
  );
}

const NO_SSE = Symbol('no-sse');

/** A catch-up or long-poll answer: its values, then the offset moves (in the same step). */
function onAnswer(state: ReadState, response: Response, body: Uint8Array, live: DurableStreamLive, secrets: readonly string[]): unknown[] {
  const { chain } = state;
  const next = response.headers.get(NEXT_OFFSET);
  if (next === null || next === '' || next.length > 1024) {
    throw new ParseError(`${SOURCE}: the answer has no Stream-Next-Offset header; is this a Durable Streams URL?`, '');
  }
  if (state.phase === 'catch-up' || state.contentType === '') state.contentType = mediaType(response);
  const values = response.status === 204 ? [] : decodeBody(state.contentType, body, secrets);
  // An answer that goes back (or whose data does not move the offset) is used not at all: a retryable fault.
  assertOffsetMoves(SOURCE, chain.offset, next, values.length > 0, secrets);
  const upToDate = response.headers.get(UP_TO_DATE) !== null;
  const closed = (response.headers.get(CLOSED) ?? '').toLowerCase() === 'true';
  const cursor = response.headers.get(CURSOR);
  if (cursor !== null) chain.cursor = cursor;
  if (!closed && !upToDate && next === chain.offset && values.length === 0 && state.phase === 'catch-up') {
    throw new ParseError(`${SOURCE}: the server answered a read with no data, no progress and not up to date.`, '');
  }
  chain.offset = next;
  if (closed) state.phase = 'done';
  else if (state.phase === 'catch-up' && upToDate) state.phase = live === false ? 'done' : live === 'long-poll' ? 'long-poll' : 'sse';
  return marked(state, values);
}

/** An SSE event of a live read: data is held until the `control` event that follows it moves the offset. */
function onServerSentEvent(state: ReadState, event: EventSourceMessage, pending: unknown[], response: Response, secrets: readonly string[]): unknown[] {
  if (event.event === 'data') {
    const base64 = (response.headers.get(SSE_ENCODING) ?? '').toLowerCase() === 'base64';
    pending.push(...decodeSseData(state.contentType, event.data, base64, secrets));
    return [];
  }
  if (event.event !== 'control') return [];
  let control: { streamNextOffset?: unknown; streamCursor?: unknown; streamClosed?: unknown };
  try {
    control = JSON.parse(event.data) as typeof control;
  } catch {
    throw new ParseError(`${SOURCE}: a control event is not JSON.`, excerpt(event.data, secrets));
  }
  if (typeof control !== 'object' || control === null || typeof control.streamNextOffset !== 'string' || control.streamNextOffset === '') {
    throw new ParseError(`${SOURCE}: a control event has no streamNextOffset.`, excerpt(event.data, secrets));
  }
  const values = pending.splice(0, pending.length);
  // A control event that goes back (or data it does not move past) drops that data and ends the read: a retryable fault.
  assertOffsetMoves(SOURCE, state.chain.offset, control.streamNextOffset, values.length > 0, secrets);
  state.chain.offset = control.streamNextOffset;
  if (typeof control.streamCursor === 'string') state.chain.cursor = control.streamCursor;
  if (control.streamClosed === true) state.phase = 'done';
  return marked(state, values);
}

/** Marks the subscription's first value with where it stands. */
function marked(state: ReadState, values: unknown[]): unknown[] {
  if (state.first && values.length > 0) {
    state.first = false;
    markStreamStart(values[0], { resumed: state.resumed, stream: state.chain.token });
  }
  return values;
}

function decodeBody(contentType: string, body: Uint8Array, secrets: readonly string[]): unknown[] {
  if (isJson(contentType)) {
    const text = new TextDecoder().decode(body);
    if (text.trim() === '') return [];
    return jsonMessages(text, secrets);
  }
  if (body.length === 0) return [];
  if (contentType.startsWith('text/')) return [new TextDecoder().decode(body)];
  return [body];
}

function decodeSseData(contentType: string, data: string, base64: boolean, secrets: readonly string[]): unknown[] {
  if (base64) {
    const bytes = fromBase64(data.replace(/[\r\n]/g, ''), secrets);
    if (bytes.length === 0) return [];
    return [contentType.startsWith('text/') ? new TextDecoder().decode(bytes) : bytes];
  }
  if (isJson(contentType)) return data.trim() === '' ? [] : jsonMessages(data, secrets);
  return data === '' ? [] : [data];
}

/** The messages of a JSON-mode body: a JSON array of messages (one value on its own counts as one message). */
function jsonMessages(text: string, secrets: readonly string[]): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ParseError(`${SOURCE}: an application/json answer is not JSON.`, excerpt(text, secrets));
  }
  return Array.isArray(value) ? value : [value];
}

function fromBase64(text: string, secrets: readonly string[]): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new ParseError(`${SOURCE}: a base64 data event is not valid base64.`, excerpt(text, secrets));
  }
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function isJson(contentType: string): boolean {
  return contentType === 'application/json' || contentType.endsWith('+json');
}

function mediaType(response: Response): string {
  return (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

function offsetOf(value: unknown): string {
  if (value === undefined) return '-1';
  if (typeof value !== 'string' || value === '' || value.length > 1024 || /[\u0000-\u001f]/.test(value)) {
    throw new TypeError(`${SOURCE}: options.offset must be an offset the server handed out, '-1' or 'now'.`);
  }
  return value;
}

function liveOf(value: unknown): DurableStreamLive {
  if (value === undefined) return true;
  if (value === true || value === false || value === 'sse' || value === 'long-poll') return value;
  throw new TypeError(`${SOURCE}: options.live must be true, false, 'sse' or 'long-poll'.`);
}
