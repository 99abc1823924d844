import { defer, type Observable } from 'rxjs';
import { IdleTimeoutError } from '../errors.js';
import { canTravel, followEventIds, type EventStreamMemory, type ServerSentEvent } from '../transport/followEventIds.js';
import { chainState } from '../internal/retryChain.js';
import { httpRequestOf, prepareStreamRequest, type TransportOptions } from '../transport/streamRequest.js';
import { decodeUtf8, fetchBytes, idleTimeout, parseServerSentEvents } from '../transport/index.js';
import { assertHeaderValue, assertObject } from '../internal/validate.js';
import { sourceUrlOf } from '../transport/sourceUrl.js';

export type { ServerSentEvent };

/** Options of `fromServerSentEvents`. */
export interface FromServerSentEventsOptions extends TransportOptions {
  /**
   * The endpoint: an http(s) URL (relative URLs resolve against the page in a
   * browser), or a function called on every subscription that returns one,
   * so a reconnect can go to another instance (failover: `() => urls[attempt++ % urls.length]`).
   */
  url: string | (() => string);
  /**
   * Sends a `POST` with this body instead of a `GET`: a string as it is, any
   * other object as JSON (with `Content-Type: application/json`). Every
   * subscription sends it again, reconnects included: an endpoint that starts
   * work on `POST` should resume on `Last-Event-ID` rather than start over.
   */
  body?: string | object | undefined;
  /**
   * The last event id to start from, as if an earlier subscription had seen
   * it (a page reload that kept it): the first request sends it as
   * `Last-Event-ID` and its first event is marked resumed.
   */
  lastEventId?: string | undefined;
}

const SOURCE = 'fromServerSentEvents';

/**
 * Streams the events of any Server-Sent Events endpoint (your own backend, a
 * relay made with `createRelay`, a provider without an adapter) as
 * `{ data, event, id }`: `data` raw (parse it with `map`), `event` and `id`
 * the event's own fields, `undefined` when absent. `GET` by default, `POST`
 * with `body`. Completes when the response ends; a `204 No Content` completes
 * at once, with no event.
 *
 * ```text
 * server:  id: 1␤data: a␤␤   data: b␤␤   (end)
 * result:  --{data:'a', id:'1'}--{data:'b', id: undefined}--|
 * ```
 *
 * Cold: every subscription is an independent request. What a reconnect
 * carries over (the last event id, the reconnection time) belongs to the
 * retry chain of `retryWithBackoff` (its successive subscriptions for one
 * subscriber), never to the observable: two subscriptions, in parallel or
 * one after the other, each start fresh; `share()` or `shareReplay()` after
 * `retryWithBackoff` make one request (and one resume) for all subscribers.
 * RxJS's own `retry`, or an async hop (`subscribeOn`) between the source and
 * `retryWithBackoff`, starts every attempt fresh.
 *
 * WHATWG reconnection rules, per retry chain:
 * - the last event id is kept: an `id:` sets it, an empty `id:` resets it, an
 *   `id:` holding NULL or another control character that no header value may
 *   carry is ignored, events without `id:` leave it; the next subscription
 *   of the chain sends it as `Last-Event-ID`, and its first event is marked
 *   `{ resumed: true, stream }` (see `markStreamStart`), so
 *   `accumulateContent` continues the snapshot, in either pipe order; without
 *   it `{ resumed: false, stream }` with a new `stream` token;
 * - a `retry:` field is the reconnection time: `retryWithBackoff` waits at
 *   least that long before the next subscription, whatever error ended the
 *   last one (`untilDone`'s `StreamInterruptedError` too), clamped to its
 *   `maxRetryAfter`, and never gives up because of it;
 * - the server stops a client from reconnecting by answering `204`: the
 *   source completes, and `retryWithBackoff` does not resubscribe after a
 *   completion (with `untilDone` downstream, an answer that ends before its
 *   end marker is an error, and is retried).
 *
 * Errors: `HttpError` for a non-2xx answer (retryable for 408, 409, 425, 429,
 * 5xx; `Retry-After` honoured), `ParseError` (not retryable) for a 2xx answer
 * that is not `text/event-stream` or an event past `maxEventSize`,
 * `NetworkError` when the connection fails or breaks off, `IdleTimeoutError`.
 * Unsubscribing aborts the request. Bad options throw `TypeError`/`RangeError`
 * right here.
 *
 * @example
 * ```ts
 * fromServerSentEvents({ url: `/chat/${id}` }).pipe(
 *   parseRelayedChunks(),
 *   untilDone(),
 *   retryWithBackoff(),   // reconnects with Last-Event-ID: the rest of the answer
 *   accumulateContent(),
 * ).subscribe((snapshot) => render(snapshot.content));
 * ```
 */
export function fromServerSentEvents(options: FromServerSentEventsOptions): Observable<ServerSentEvent> {
  assertObject(`${SOURCE}: options`, options);
  const url = sourceUrlOf(SOURCE, options.url);
  // As EventSource: no cached answer, from the browser's cache or a proxy. `cache: 'no-store'` (in
  // fetchBytes) makes fetch send `Cache-Control: no-cache` itself, which, unlike a header set here,
  // costs no CORS preflight in a browser.
  const headers: Record<string, string> = { Accept: 'text/event-stream' };
  let body = '';
  if (options.body !== undefined) {
    body = bodyOf(options.body);
    if (typeof options.body !== 'string') headers['Content-Type'] = 'application/json';
  }
  const method = options.body === undefined ? 'GET' : 'POST';
  const request = prepareStreamRequest(SOURCE, options, { url: '', body, headers, secrets: [] });
  const lastEventId = options.lastEventId === undefined ? '' : assertHeaderValue(`${SOURCE}: options.lastEventId`, options.lastEventId);
  const { idleTimeout: timeoutMs } = request;
  // The key of this source's state in each retry chain (see internal/retryChain): cold, resumable.
  const key = {};

  return defer(() => {
    const { state: memory, chain } = chainState<EventStreamMemory>(key, () => ({ lastEventId, stream: {} }));
    const sent = memory.lastEventId;
    // A request without Last-Event-ID starts a new response: a new token for the fold to know it by.
    if (sent === '') memory.stream = {};
    const httpRequest = () => {
      const sentHeaders = sent === '' ? headers : { ...headers, 'Last-Event-ID': utf8Bytes(sent) };
      return httpRequestOf({ ...request, method, url: url(), headers: sentHeaders });
    };
    return fetchBytes(httpRequest, { source: SOURCE, fetch: request.fetch, contentType: 'event-stream', eventSource: true }).pipe(
      idleTimeout(timeoutMs, { scheduler: request.scheduler, error: () => new IdleTimeoutError(timeoutMs, SOURCE) }),
      decodeUtf8(),
      parseServerSentEvents({
        source: SOURCE,
        maxEventSize: request.maxEventSize,
        onRetry: (ms) => chain && (chain.reconnectDelay = ms),
        // WHATWG: a block's id: sets the last event id even when the block dispatches no event.
        onIdWithoutData: (id) => canTravel(id) && (memory.lastEventId = id),
      }),
      followEventIds(memory, sent !== ''),
    );
  });
}

/** The UTF-8 bytes of `text` as a byte string, which is how a header value carries any id (`fetch` refuses characters above U+00FF). */
function utf8Bytes(text: string): string {
  if (!/[^\u0000-\u007f]/.test(text)) return text;
  return Array.from(new TextEncoder().encode(text), (byte) => String.fromCharCode(byte)).join('');
}

function bodyOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) throw new TypeError(`${SOURCE}: options.body must be a string or an object to send as JSON.`);
  try {
    return JSON.stringify(value);
  } catch {
    throw new TypeError(`${SOURCE}: options.body cannot be turned into JSON (a cycle, or a BigInt).`);
  }
}

