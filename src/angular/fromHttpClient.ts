import type { FetchLike } from '../transport/streamRequest.js';

/**
 * The numbers of Angular's `HttpEventType` that the adapter reads, copied here
 * so that this file needs no `@angular/*` import. Not exported from
 * `rxjs-llm-stream/angular`: Angular's own `HttpEventType` is the public name.
 *
 * @internal
 */
export const HTTP_EVENT_TYPE = {
  Sent: 0,
  UploadProgress: 1,
  ResponseHeader: 2,
  DownloadProgress: 3,
  Response: 4,
  User: 5,
} as const;

/** The part of Angular's `HttpHeaders` the adapter reads. */
export interface HttpHeadersLike {
  keys(): string[];
  get(name: string): string | null;
  getAll?(name: string): string[] | null;
}

/**
 * The part of Angular's `HttpEvent<string>` the adapter reads: the response
 * header event (`type` 2: `status`, `statusText`, `headers`), download
 * progress (`type` 3: `partialText`, the whole text so far) and the response
 * (`type` 4: `body`).
 */
export interface HttpEventLike {
  type: number;
  status?: number;
  statusText?: string;
  headers?: HttpHeadersLike;
  partialText?: string;
  body?: unknown;
}

/** The options the adapter passes to `HttpClient.request`. */
export interface HttpClientRequestOptions {
  body: string | null;
  headers: Record<string, string>;
  observe: 'events';
  reportProgress: true;
  responseType: 'text';
  withCredentials?: boolean;
}

/** The part of an RxJS `Observable` (or any subscribable) the adapter uses. */
export interface HttpSubscribable {
  subscribe(observer: {
    next: (event: HttpEventLike) => void;
    error: (error: unknown) => void;
    complete: () => void;
  }): { unsubscribe(): void };
}

/**
 * What the adapter needs of Angular's `HttpClient`: its `request` method with
 * `observe: 'events'`. Angular's `HttpClient` satisfies it as it is; the type
 * is structural so this package never depends on Angular.
 */
export interface HttpClientLike {
  request(method: string, url: string, options: HttpClientRequestOptions): HttpSubscribable;
}

/** A text up to this many characters is read at every progress event. */
const READ_AT_ONCE = 8 * 1024;
/** A longer one at once when the unread part is at least 1/GROWTH of it. */
const GROWTH = 8;
/** Otherwise after `length / CHARS_PER_MS` ms, at most `MAX_WAIT_MS`. */
const CHARS_PER_MS = 16 * 1024;
const MAX_WAIT_MS = 100;

/** Statuses whose `Response` may not have a body. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * A `fetch` for the sources' `fetch` option that sends the request through
 * Angular's `HttpClient`, so the app's interceptors (auth, logging, retries of
 * their own) apply to it. Use `provideHttpClient(withFetch())` so the text
 * streams: each `DownloadProgress` event's new `partialText` becomes bytes of
 * the `Response` body as it arrives. Linear on long answers: Angular grows
 * `partialText` by concatenation, and reading any part of such a string
 * copies all of it, so past 8 Ki characters the text is read when its unread
 * part is at least an eighth of it, else after a wait of 1 ms per 16 Ki
 * characters (at most 100 ms): a 1 MB answer in small pieces is copied a few
 * times over, not once per piece.
 *
 * - A status the server answers (2xx or not) resolves to a `Response` with that
 *   status, headers and body, so the sources raise `HttpError` (with
 *   `Retry-After`) exactly as with `fetch`.
 * - A failure with status 0 (no connection, CORS, a broken body) rejects, or
 *   errors the body if it had started, with the error `fetch` raised (that
 *   Angular wraps), else a `TypeError` caused by the `HttpErrorResponse`;
 *   the sources report it as `NetworkError`.
 * - Aborting the request's `AbortSignal` (unsubscribing from the pipeline)
 *   unsubscribes from `HttpClient`, which cancels the request.
 * - Redirects are followed by `HttpClient` and the browser.
 *
 * ```text
 * HttpClient:  -Sent-Header(200)-Progress("He")-Progress("Hello")-Response-|
 * Response:    -------resolved----"He"----------"llo"-------------(end)
 * ```
 *
 * @example
 * ```ts
 * @Injectable({ providedIn: 'root' })
 * export class ChatService {
 *   private readonly http = inject(HttpClient);
 *   ask(question: string) {
 *     return fromChatCompletion({
 *       baseURL: '/api/v1',
 *       fetch: fromHttpClient(this.http),   // interceptors add the auth header
 *       body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }] },
 *     }).pipe(untilDone(), accumulateContent(), withStreamStatus({ errorsAsState: true }));
 *   }
 * }
 * ```
 */
export function fromHttpClient(http: HttpClientLike): FetchLike {
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const signal = init.signal ?? undefined;
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      const encoder = new TextEncoder();
      let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
      let response: Response | undefined;
      let sent = 0; // characters of the text already put in the body
      let finished = false;

      const body = new ReadableStream<Uint8Array>({
        start: (c) => {
          controller = c;
        },
        cancel: () => finish(),
      });
      const respond = (status: number, statusText: string | undefined, headers: HttpHeadersLike | undefined) => {
        if (response) return;
        response = new Response(NULL_BODY_STATUSES.has(status) ? null : body, {
          status,
          statusText: statusText ?? '',
          headers: toHeaders(headers),
        });
        resolve(response);
      };
      // Angular grows `partialText` with `+=`: a rope that V8 copies whole (flattens) at the first
      // read of any character, so reading it at every progress event is quadratic. It is read when
      // short, when the unread part is at least an eighth of it (the copies add up to a few times
      // the answer), and otherwise once a short wait has passed (a few ms per 64 Ki characters).
      let latest = ''; // the newest text, kept without reading it
      let timer: ReturnType<typeof setTimeout> | undefined;
      const offer = (text: string) => {
        latest = text;
        const unread = text.length - sent;
        if (unread <= 0 || finished) return;
        if (text.length <= READ_AT_ONCE || unread * GROWTH >= text.length) read(false);
        else timer ??= setTimeout(() => read(false), Math.min(MAX_WAIT_MS, Math.ceil(text.length / CHARS_PER_MS)));
      };
      const read = (final: boolean) => {
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        if (latest.length <= sent || finished) return;
        let fresh = latest.slice(sent);
        // Hold back a lone high surrogate: its pair comes with the next text.
        if (!final && isHighSurrogate(fresh.charCodeAt(fresh.length - 1))) fresh = fresh.slice(0, -1);
        if (fresh === '') return;
        controller?.enqueue(encoder.encode(fresh));
        sent += fresh.length;
      };
      const push = (text: string, final: boolean) => {
        if (final) {
          latest = text;
          read(true);
        } else offer(text);
      };
      const close = () => {
        read(true);
        if (!finished) controller?.close();
        finish();
      };
      const fail = (error: unknown) => {
        if (!response) reject(error);
        else if (!finished) controller?.error(error);
        finish();
      };
      const onAbort = () => fail(abortReason(signal!));
      let subscription: { unsubscribe(): void } | undefined;

      subscription = http
        .request(init.method ?? 'GET', url, {
          body: typeof init.body === 'string' ? init.body : null,
          headers: toRecord(init.headers),
          observe: 'events',
          reportProgress: true,
          responseType: 'text',
          ...(init.credentials === 'include' ? { withCredentials: true } : {}),
        })
        .subscribe({
          next: (event) => {
            if (finished) return;
            if (event.type === HTTP_EVENT_TYPE.ResponseHeader) {
              respond(event.status ?? 200, event.statusText, event.headers);
            } else if (event.type === HTTP_EVENT_TYPE.DownloadProgress) {
              respond(200, undefined, undefined);
              if (typeof event.partialText === 'string') push(event.partialText, false);
            } else if (event.type === HTTP_EVENT_TYPE.Response) {
              respond(event.status ?? 200, event.statusText, event.headers);
              if (typeof event.body === 'string') push(event.body, true);
              close();
            }
          },
          error: (error: unknown) => {
            if (finished) return;
            const status = statusOf(error);
            if (status === 0) {
              fail(networkFailure(error));
              return;
            }
            const failure = error as { statusText?: string; headers?: HttpHeadersLike; error?: unknown };
            respond(status, failure.statusText, failure.headers);
            if (response?.ok) {
              fail(networkFailure(error));
              return;
            }
            push(bodyText(failure.error), true);
            close();
          },
          complete: () => {
            if (finished) return;
            if (!response) respond(200, undefined, undefined);
            close();
          },
        });
      // HttpClient may have answered synchronously (a cached or fake response).
      if (finished) subscription.unsubscribe();
      else signal?.addEventListener('abort', onAbort, { once: true });

      function finish() {
        if (finished) return;
        finished = true;
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        subscription?.unsubscribe();
      }
    });
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The request was aborted.', 'AbortError');
}

function toHeaders(headers: HttpHeadersLike | undefined): Headers {
  const result = new Headers();
  if (!headers) return result;
  for (const name of headers.keys()) {
    const values = headers.getAll?.(name) ?? [headers.get(name)];
    for (const value of values) if (value !== null) result.append(name, value);
  }
  return result;
}

function toRecord(headers: HeadersInit | undefined): Record<string, string> {
  const record: Record<string, string> = {};
  new Headers(headers).forEach((value, name) => {
    record[name] = value;
  });
  return record;
}

/** The HTTP status of an Angular `HttpErrorResponse`; 0 for anything else. */
function statusOf(error: unknown): number {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 200 && status <= 599 ? status : 0;
}

/**
 * What `fetch` would have thrown: Angular wraps a failed fetch or body read in
 * an `HttpErrorResponse` (status 0, a vague message) around the error itself,
 * which is passed on; without one, a `TypeError` caused by the
 * `HttpErrorResponse`.
 */
function networkFailure(error: unknown): Error {
  const inner = (error as { error?: unknown } | null)?.error;
  if (inner instanceof Error) return inner;
  const message = (error as { message?: unknown } | null)?.message;
  return new TypeError(typeof message === 'string' && message !== '' ? message : 'the HttpClient request failed', { cause: error });
}

/** An error response's body as text: Angular gives the text, or parsed JSON for other response types. */
function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  if (body === null || body === undefined || body instanceof Error) return '';
  if (typeof body === 'object' && !Array.isArray(body) && Object.getPrototypeOf(body) !== Object.prototype) return '';
  try {
    return JSON.stringify(body);
  } catch {
    return '';
  }
}
