// src/transport/: fetch, redirects, UTF-8, SSE parsing, the idle timeout, and the request a source
// prepares (streamRequest, serverSentEvents, followEventIds, sourceUrl). May import timing/,
// internal/ and the root modules (errors, types, streamStart); never sources/, operators/ or server/
// (npm run lint:layout).

/**
 * The transport: small parts that every streaming source composes.
 *
 * ```text
 * fetchBytes(request, options)          HTTP: one request per subscription, redirects, status and
 *                                       content-type checks, typed errors; emits the body's bytes
 *   .pipe(idleTimeout(ms, { error }))   no value for `ms` → error, and the request is aborted
 *   .pipe(decodeUtf8())                 bytes → text, characters whole across reads
 *   .pipe(parseServerSentEvents(opts))  text → { data, event?, id? } per event; `retry:` to opts.onRetry
 * ```
 *
 * - `fetchBytes(request, options)`: `request` is a function called on every
 *   subscription, returning (or promising) `{ method, url, headers, body?,
 *   secrets }`, so a source can send a GET to a different URL on resume, a
 *   fresh `Last-Event-ID`, fresh tokens. `options`: `source` (message
 *   prefix), `fetch` (default: `globalThis.fetch`, looked up per
 *   subscription), `contentType` (`'lenient'`: only HTML and JSON 2xx answers
 *   are refused; `'event-stream'`: anything but `text/event-stream` is a
 *   non-retryable `ParseError`), `onResponse` (sees the 2xx response before
 *   its body). A `204` (no body) completes at once. Redirect and credential
 *   rules: see `redirects.ts` (`CROSS_ORIGIN_HEADERS`).
 * - `idleTimeout(ms, { scheduler?, error })`: any operator chain; a value
 *   costs a clock read; late timers earn one grace per silence (the error
 *   comes by 1.5 × `ms` after the last value). Timers run on `scheduler`
 *   (default `asyncScheduler`).
 * - `decodeUtf8()`: one `TextDecoder` per subscription.
 * - `parseServerSentEvents({ source, maxEventSize?, onRetry?, select? })`:
 *   WHATWG SSE parsing with the one CR rule of `lineEndNormalizer`;
 *   `ParseError` past `maxEventSize` characters. `select` maps each event in
 *   the same step (results equal to `SKIP` are left out), for a source's hot
 *   path.
 * - `freshMarker()`: a function marking the first object it passes with
 *   `markStreamStart(value, { resumed: false })`; one per subscription.
 * - `markFirstFresh()`: marks the first value of each subscription with
 *   `markStreamStart(value, { resumed: false })`; resumable sources mark
 *   their own `{ resumed: true, stream }` instead.
 *
 * Teardown anywhere in the chain aborts the request and cancels the body
 * reader; no value or error is delivered after it.
 *
 * @example
 * ```ts
 * const events = fetchBytes(() => ({ method: 'GET', url, headers: { Accept: 'text/event-stream' }, secrets: [] }), {
 *   source: 'fromServerSentEvents',
 *   contentType: 'event-stream',
 * }).pipe(
 *   idleTimeout(60_000, { error: () => new IdleTimeoutError(60_000, 'fromServerSentEvents') }),
 *   decodeUtf8(),
 *   parseServerSentEvents({ source: 'fromServerSentEvents', onRetry: (ms) => (reconnectDelay = ms) }),
 * );
 * ```
 *
 * @packageDocumentation
 */
export { decodeUtf8 } from './decodeUtf8.js';
export { fetchBytes, type FetchBytesOptions, type FetchLike, type HttpRequest } from './fetchBytes.js';
export { idleTimeout, type IdleTimeoutOptions } from './idleTimeout.js';
export { lineEndNormalizer } from './lineEndNormalizer.js';
export { freshMarker } from './freshMarker.js';
export { markFirstFresh } from './markFirstFresh.js';
export {
  DEFAULT_MAX_EVENT_SIZE,
  parseServerSentEvents,
  SKIP,
  type EventSourceMessage,
  type ParseServerSentEventsOptions,
  type SelectServerSentEventsOptions,
} from './parseServerSentEvents.js';
export { CROSS_ORIGIN_HEADERS, crossOriginHeaders, MAX_REDIRECTS } from './redirects.js';
export { excerpt, type ContentTypeRule } from './responseErrors.js';
