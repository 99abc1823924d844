import { Observable, type Subscriber } from 'rxjs';
import { crossOriginHeaders, hiddenRedirect, MAX_REDIRECTS, redirectTarget } from './redirects.js';
import { HttpError } from '../errors.js';
import { brokenConnection, httpError, origin, rejectNonStream, requestFailed, type ContentTypeRule, type ErrorContext } from './responseErrors.js';

/** The part of `fetch` the transport uses; inject one for tests, proxies and frameworks. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** One HTTP request, computed per subscription. */
export interface HttpRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** Values never to repeat in an error: the API key, credential header values. */
  secrets: readonly string[];
}

export interface FetchBytesOptions {
  /** Who makes the request, for messages: `fromChatCompletion`, ... */
  source: string;
  /** The `fetch` to use. Default: `globalThis.fetch`, looked up on every subscription. */
  fetch?: FetchLike;
  /** How a 2xx response's content type is judged (see `rejectNonStream`). Default `'lenient'`. */
  contentType?: ContentTypeRule;
  /** Sees each final 2xx response (status, headers) before its body is read. */
  onResponse?: (response: Response) => void;
  /**
   * The WHATWG EventSource rules: `cache: 'no-store'`; a `GET` follows
   * 301/302/303 too (a `POST` does not: they would make it a `GET` without
   * its body); a 2xx other than 200 (or 204) is a non-retryable `HttpError`.
   */
  eventSource?: boolean;
}

/** Emitted when the response headers (and each read of an error body) arrive: activity without bytes. */
const NO_BYTES = new Uint8Array(0);

/**
 * Makes `request()`'s HTTP request on every subscription and emits the
 * response body's bytes as they arrive; completes when the body ends (a
 * `204` or an empty body completes at once).
 *
 * - Redirects: 307/308 are followed by hand, up to 5, only to http(s), never
 *   from https to http, and with only `CROSS_ORIGIN_HEADERS` when the origin
 *   changes; with `eventSource`, 301/302/303 too on a `GET`. A browser's hidden (`opaqueredirect`) redirect is an error, never
 *   re-sent. Other 3xx are `HttpError`s.
 * - Errors: `HttpError` (non-2xx, body's provider message included),
 *   `ParseError`/`ApiError` (a 2xx that is not an event stream),
 *   `NetworkError` (fetch rejected, the body broke off). Secrets redacted.
 * - Activity: an empty chunk when the headers arrive and per read of an
 *   error body, so an idle timeout downstream sees the server is alive.
 * - Teardown aborts the request and cancels the body reader; nothing is
 *   emitted or reported after it, and nothing waits on a `fetch` that ignores
 *   the abort signal. A body read to its end is not aborted afterwards; a
 *   body being read when the teardown comes is read on (and dropped) until
 *   the next macrotask, and aborted then unless it ended by itself.
 *
 * ```text
 * server:   (headers)--[bytes]--[bytes]--(end)
 * result:   []---------[bytes]--[bytes]--|
 * ```
 *
 * @example
 * ```ts
 * fetchBytes(() => ({ method: 'GET', url, headers: { Accept: 'text/event-stream' }, secrets: [] }), { source: 'mySource' });
 * ```
 */
export function fetchBytes(request: () => HttpRequest | Promise<HttpRequest>, options: FetchBytesOptions): Observable<Uint8Array> {
  return new Observable<Uint8Array>((subscriber) => {
    const controller = new AbortController();
    const body: BodyState = { ended: false };
    streamBody(subscriber, request, options, controller.signal, body).then(
      () => {
        if (!subscriber.closed) subscriber.complete();
      },
      (error: unknown) => {
        if (!subscriber.closed) subscriber.error(error);
      },
    );
    return () => {
      // A body read to its end leaves nothing to abort (and an abort makes an
      // AbortError, a cost on every stream).
      if (body.ended) return;
      const abort = () => {
        if (body.ended) return;
        controller.abort();
        body.reader?.cancel().catch(() => undefined);
      };
      if (body.reader === undefined) return abort();
      body.abort = abort;
      // The consumer stopped while the body is being read: most often at the
      // answer's end (`untilDone` at `[DONE]`), whose last bytes are already
      // here or on their way. The rest of what arrives until the next
      // macrotask is read and dropped, so a body that ends by itself is not
      // aborted (no AbortError, no socket torn down); then it is aborted.
      body.draining = setTimeout(abort, 0);
    };
  });
}

/** How many reads past the teardown a body may take to end by itself. */
const MAX_DRAINED_READS = 16;

/** The body of one subscription: its reader once there is one, and whether it was read to its end. */
interface BodyState {
  reader?: ReadableStreamDefaultReader<Uint8Array>;
  ended: boolean;
  /** Set by the teardown: read on (and drop) until the end or the abort, at most `MAX_DRAINED_READS` reads. */
  draining?: ReturnType<typeof setTimeout>;
  abort?: () => void;
}

async function streamBody(
  subscriber: Subscriber<Uint8Array>,
  makeRequest: () => HttpRequest | Promise<HttpRequest>,
  options: FetchBytesOptions,
  signal: AbortSignal,
  body: BodyState,
): Promise<void> {
  const request = await makeRequest();
  if (subscriber.closed) return;
  const context: ErrorContext = { source: options.source, secrets: request.secrets };
  const response = await send(request, options, context, signal);
  if (subscriber.closed) return void response.body?.cancel().catch(() => undefined);
  const activity = () => {
    if (!subscriber.closed) subscriber.next(NO_BYTES);
  };
  activity();
  if (!response.ok) throw await httpError(context, response, activity);
  if (options.eventSource === true && response.status !== 200 && response.status !== 204) {
    await response.body?.cancel().catch(() => undefined);
    throw new HttpError(
      response.status,
      `${context.source}: HTTP ${response.status} from ${origin(response.url || request.url)}: an event stream answers 200 (EventSource accepts no other 2xx), so the body was not read.`,
    );
  }
  const stream = response.body;
  if (response.status === 204 || stream === null) {
    options.onResponse?.(response);
    return void stream?.cancel().catch(() => undefined);
  }
  await rejectNonStream(context, response, options.contentType ?? 'lenient', activity);
  options.onResponse?.(response);
  const reader = stream.getReader();
  body.reader = reader;
  if (subscriber.closed) return void reader.cancel().catch(() => undefined);
  let drained = 0;
  for (;;) {
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await reader.read();
    } catch (error) {
      if (subscriber.closed) return;
      throw brokenConnection(context, error);
    }
    if (result.done) {
      body.ended = true;
      if (body.draining !== undefined) clearTimeout(body.draining);
      return;
    }
    if (subscriber.closed) {
      // A body that keeps coming at once (an in-memory one) is not drained forever.
      if (body.draining !== undefined && ++drained <= MAX_DRAINED_READS) continue;
      body.abort?.();
      return;
    }
    subscriber.next(result.value);
  }
}

/** Redirects that EventSource follows on its `GET` (and that would turn a `POST` into a `GET`). */
const SEE_OTHER = new Set([301, 302, 303]);

/** Sends the request, following 307/308 redirects (and 301/302/303 for an event source's `GET`) by the rules of `fetchBytes`. */
async function send(request: HttpRequest, options: FetchBytesOptions, context: ErrorContext, signal: AbortSignal): Promise<Response> {
  // Looked up per subscription (as RxJS fromFetch does), so a fetch patched later (MSW, zone.js) is used;
  // called unbound: a browser's fetch throws "Illegal invocation" when `this` is not the window.
  const fetch = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
  if (typeof fetch !== 'function') throw new TypeError(`${context.source}: this runtime has no global fetch; pass one as options.fetch.`);
  let { url, headers } = request;
  for (let hop = 0; ; hop++) {
    const init: RequestInit = { method: request.method, headers, signal, redirect: 'manual' };
    if (options.eventSource === true) init.cache = 'no-store';
    if (request.body !== undefined) init.body = request.body;
    let response: Response;
    try {
      response = await unlessAborted(fetch(url, init), signal);
    } catch (error) {
      if (signal.aborted) throw error;
      throw requestFailed(context, url, error);
    }
    if (response.type === 'opaqueredirect') throw hiddenRedirect(context, url);
    const location = response.headers.get('location');
    const followed = response.status === 307 || response.status === 308 || (options.eventSource === true && request.method === 'GET' && SEE_OTHER.has(response.status));
    if (!followed || !location || hop === MAX_REDIRECTS) return response;
    await response.body?.cancel().catch(() => undefined);
    const next = redirectTarget(context, url, response.status, location);
    if (next.origin !== new URL(url).origin) headers = crossOriginHeaders(headers);
    url = next.href;
  }
}

/**
 * `promise`, or a rejection as soon as `signal` aborts, for a `fetch` that
 * ignores its signal; a response arriving after the abort has its body cancelled.
 */
function unlessAborted(promise: Promise<Response>, signal: AbortSignal): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (response) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) response.body?.cancel().catch(() => undefined);
        resolve(response);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
