import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { Observable, type Subscriber } from 'rxjs';
import { HttpError, IdleTimeoutError, NetworkError, ParseError } from '../errors.js';
import { cleanMessage, findErrorObject, toApiError } from './errorObject.js';
import { startIdleTimer, type IdleTimer } from './idleTimer.js';
import { redact, redactError } from './redact.js';
import { retryAfterMs } from './retryAfter.js';
import { assertHeaders } from './validate.js';
import { CREDENTIAL_HEADER, credentialValues, type StreamRequest } from './streamRequest.js';

export type { EventSourceMessage };

/** How much of an error body is read to find the provider's message. */
const MAX_ERROR_BODY = 64 * 1024;
/** How much of a bad payload an error quotes. */
const EXCERPT_LENGTH = 120;

/**
 * One POST per subscription; emits each SSE event of the response body as soon
 * as its bytes arrive, completes when the body ends, and aborts the request on
 * unsubscribe. Errors are the typed errors of `../errors`.
 */
export function serverSentEvents(request: StreamRequest): Observable<EventSourceMessage> {
  return new Observable<EventSourceMessage>((subscriber) => {
    const controller = new AbortController();
    const idle = startIdleTimer(request.idleTimeout, () => {
      subscriber.error(new IdleTimeoutError(request.idleTimeout));
      controller.abort();
    });
    streamInto(subscriber, request, controller.signal, idle).then(
      () => subscriber.complete(),
      (error: unknown) => subscriber.error(error),
    );
    return () => {
      idle.stop();
      controller.abort();
    };
  });
}

async function streamInto(
  subscriber: Subscriber<EventSourceMessage>,
  request: StreamRequest,
  signal: AbortSignal,
  idle: IdleTimer,
): Promise<void> {
  const { headers, secrets } = await resolveHeaders(request);
  const response = await send(request, headers, signal, secrets);
  if (signal.aborted) return;
  idle.touch();
  if (!response.ok) throw await httpError(request, response, idle, secrets);
  await rejectNonStream(request, response, idle, secrets);
  if (response.body === null) return;

  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let endedWithCR = false;
  let parseFailure: ParseError | undefined;
  const parser = createParser({
    maxBufferSize: request.maxEventSize,
    onEvent: (event) => subscriber.next(event),
    onError: (error) => {
      if (error.type === 'max-buffer-size-exceeded') {
        parseFailure = new ParseError(
          `${request.source}: an event grew past maxEventSize (${request.maxEventSize} characters) without ending; raise maxEventSize if it is legitimate.`,
          '',
        );
      }
    },
  });
  for (;;) {
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await reader.read();
    } catch (error) {
      throw brokenConnection(error, request, secrets);
    }
    const { done, value } = result;
    if (done || subscriber.closed) return;
    idle.touch();
    let text = decoder.decode(value, { stream: true });
    // Normalise CR and CRLF to LF here, so that a CR ending a read is handled
    // at once instead of waiting for the next byte to tell it from CRLF.
    if (endedWithCR && text.charCodeAt(0) === 10) text = text.slice(1);
    if (text.includes('\r')) {
      endedWithCR = text.charCodeAt(text.length - 1) === 13;
      text = text.replace(/\r\n?/g, '\n');
    } else if (text !== '') {
      endedWithCR = false;
    }
    parser.feed(text);
    if (parseFailure) throw parseFailure;
  }
}

async function resolveHeaders(request: StreamRequest): Promise<{ headers: Record<string, string>; secrets: string[] }> {
  const { extraHeaders, source } = request;
  if (typeof extraHeaders !== 'function') return { headers: { ...request.headers, ...extraHeaders }, secrets: request.secrets };
  const fresh = assertHeaders(`${source}: the headers function's result`, await extraHeaders());
  return { headers: { ...request.headers, ...fresh }, secrets: [...request.secrets, ...credentialValues(fresh)] };
}

/** Redirects followed before the 3xx response itself is reported. */
const MAX_REDIRECTS = 5;

/**
 * POSTs the request, following 307/308 redirects by hand so that credential
 * headers (`Authorization`, `x-api-key`, `api-key`, ...) never reach another
 * origin: fetch itself drops only `Authorization`. Other 3xx come back as
 * they are (and become an `HttpError`). Where `redirect: 'manual'` hides the
 * target (browsers), the request is sent again with the browser's own
 * redirect handling, which strips `Authorization` and asks the new origin's
 * CORS consent for the rest.
 */
async function send(
  request: StreamRequest,
  headers: Record<string, string>,
  signal: AbortSignal,
  secrets: readonly string[],
): Promise<Response> {
  let url = request.url;
  let sent = headers;
  for (let hop = 0; ; hop++) {
    const response = await post(request, url, sent, signal, secrets, 'manual');
    if (response.type === 'opaqueredirect') return post(request, url, sent, signal, secrets, 'follow');
    const location = response.headers.get('location');
    if ((response.status !== 307 && response.status !== 308) || !location || hop === MAX_REDIRECTS) return response;
    const next = new URL(location, url);
    if (next.origin !== new URL(url).origin) sent = withoutCredentials(sent);
    await response.body?.cancel().catch(() => undefined);
    url = next.href;
  }
}

function withoutCredentials(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !CREDENTIAL_HEADER.test(name)));
}

async function post(
  request: StreamRequest,
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  secrets: readonly string[],
  redirect: RequestRedirect,
): Promise<Response> {
  // Called unbound: a browser's fetch throws "Illegal invocation" when `this` is not the window.
  const { fetch } = request;
  try {
    const method = request.method ?? 'POST';
    return await fetch(url, { method, headers, body: method === 'GET' ? undefined : request.body, signal, redirect });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new NetworkError(
      `${request.source}: the request to ${origin(url)} failed (${describeFailure(error, secrets)}). Check the network and the base URL.`,
      { cause: redactError(error, secrets) },
    );
  }
}

/** The `NetworkError` for a body that broke off while streaming. */
function brokenConnection(error: unknown, request: StreamRequest, secrets: readonly string[]): NetworkError {
  return new NetworkError(
    `${request.source}: the connection broke while the answer was streaming (${describeFailure(error, secrets)}).`,
    { cause: redactError(error, secrets) },
  );
}

async function httpError(
  request: StreamRequest,
  response: Response,
  idle: IdleTimer,
  secrets: readonly string[],
): Promise<HttpError> {
  const body = await readSome(response, idle);
  const found = findErrorObject(tryParseJson(body));
  const detail = found ? cleanMessage(found.message, secrets) : plainTextDetail(body, secrets);
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  return new HttpError(
    response.status,
    `${request.source}: ${status}${detail ? `: ${detail.replace(/\.$/, '')}` : ''}${hintFor(response.status)}`,
    retryAfterMs(response.headers),
  );
}

/**
 * A 2xx that is plainly not an event stream (an HTML page from a proxy, a JSON
 * answer from an endpoint that ignores `stream: true`) fails with a clear error
 * instead of looking like an empty, interrupted stream.
 */
async function rejectNonStream(
  request: StreamRequest,
  response: Response,
  idle: IdleTimer,
  secrets: readonly string[],
): Promise<void> {
  const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'text/html' && type !== 'application/json') return;
  const body = await readSome(response, idle);
  const found = findErrorObject(tryParseJson(body));
  if (found) throw toApiError(found, secrets);
  throw new ParseError(
    `${request.source}: expected an event stream (text/event-stream) but the server answered ${type}. ` +
      'Check the URL, and that the endpoint supports streaming.',
    excerpt(body, secrets),
  );
}

/** Reads up to `MAX_ERROR_BODY` bytes of a body as text, then cancels the rest. */
async function readSome(response: Response, idle: IdleTimer): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (text.length < MAX_ERROR_BODY) {
      const { done, value } = await reader.read();
      if (done) return text + decoder.decode();
      idle.touch();
      text += decoder.decode(value, { stream: true });
    }
    await reader.cancel().catch(() => undefined);
  } catch {
    // The status says enough; a body that breaks off adds nothing.
  }
  return text;
}

function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function plainTextDetail(body: string, secrets: readonly string[]): string {
  const trimmed = body.trim();
  return trimmed === '' || trimmed.startsWith('<') ? '' : cleanMessage(trimmed, secrets);
}

function hintFor(status: number): string {
  if (status === 401 || status === 403) return '. Check the API key and its permissions.';
  if (status === 404) return '. Check the base URL and the model name.';
  return '';
}

/** A short quote of a bad payload, for `ParseError.excerpt`. */
export function excerpt(text: string, secrets: readonly string[]): string {
  const clean = redact(text, secrets);
  return clean.length > EXCERPT_LENGTH ? `${clean.slice(0, EXCERPT_LENGTH)}…` : clean;
}

function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the server';
  }
}

function describeFailure(error: unknown, secrets: readonly string[]): string {
  if (!(error instanceof Error)) return redact(String(error), secrets);
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : '';
  return redact(detail ? `${error.message}: ${detail}` : error.message, secrets);
}
