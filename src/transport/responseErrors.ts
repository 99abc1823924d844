import { HttpError, NetworkError, ParseError } from '../errors.js';
import { cleanMessage, findErrorObject, toApiError } from '../internal/errorObject.js';
import { redact, redactError } from '../internal/redact.js';
import { retryAfterMs } from '../timing/retryAfter.js';

/** How much of an error body is read to find the provider's message. */
const MAX_ERROR_BODY = 64 * 1024;
/** How much of a bad payload an error quotes. */
const EXCERPT_LENGTH = 120;

/** C0 and C1 control characters (and DEL). */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/** Who asks (for messages) and what never to repeat. */
export interface ErrorContext {
  source: string;
  secrets: readonly string[];
}

/** The `HttpError` for a non-2xx response: status, cleaned reason phrase, the provider's message from the body, a hint. */
export async function httpError(context: ErrorContext, response: Response, onBytes: () => void): Promise<HttpError> {
  const body = await readSome(response, onBytes);
  const found = findErrorObject(tryParseJson(body));
  const detail = found ? cleanMessage(found.message, context.secrets) : plainTextDetail(body, context.secrets);
  // The reason phrase is the server's: controls out first (so a key split by one is still found), then redacted.
  const reason = cleanMessage(response.statusText.replace(CONTROL_CHARACTERS, ''), context.secrets);
  const status = `HTTP ${response.status}${reason ? ` ${reason}` : ''}`;
  return new HttpError(
    response.status,
    `${context.source}: ${status}${detail ? `: ${detail.replace(/\.$/, '')}` : ''}${hintFor(response.status)}`,
    retryAfterMs(response.headers),
  );
}

/** How a 2xx response's content type is judged. */
export type ContentTypeRule = 'lenient' | 'event-stream' | 'any';

/**
 * A 2xx that is plainly not an event stream fails with a clear error instead
 * of looking like an empty, interrupted stream. `'lenient'`: only `text/html`
 * (a proxy's page) and `application/json` (an endpoint ignoring
 * `stream: true`; an error object in it is an `ApiError`) are refused.
 * `'event-stream'`: anything but `text/event-stream` is refused. `'any'`:
 * nothing is refused (a source that reads bodies of any type). The error
 * is a `ParseError` (not retryable), or the `ApiError` of an error object in
 * the body (retryable only when the provider says so).
 */
export async function rejectNonStream(context: ErrorContext, response: Response, rule: ContentTypeRule, onBytes: () => void): Promise<void> {
  const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (rule === 'any') return;
  const refused = rule === 'event-stream' ? type !== 'text/event-stream' : type === 'text/html' || type === 'application/json';
  if (!refused) return;
  const body = await readSome(response, onBytes);
  const found = findErrorObject(tryParseJson(body));
  if (found) throw toApiError(found, context.secrets);
  throw new ParseError(
    `${context.source}: expected an event stream (text/event-stream) but the server answered ${cleanMessage(type, context.secrets) || 'with no content type'}. ` +
      'Check the URL, and that the endpoint supports streaming.',
    excerpt(body, context.secrets),
  );
}

/** Reads up to `MAX_ERROR_BODY` bytes of a body as text (calling `onBytes` per read), then cancels the rest. */
async function readSome(response: Response, onBytes: () => void): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (text.length < MAX_ERROR_BODY) {
      const { done, value } = await reader.read();
      if (done) return text + decoder.decode();
      onBytes();
      text += decoder.decode(value, { stream: true });
    }
    await reader.cancel().catch(() => undefined);
  } catch {
    // The status says enough; a body that breaks off adds nothing.
  }
  return text;
}

/** The `NetworkError` for a `fetch` that rejected. */
export function requestFailed(context: ErrorContext, url: string, error: unknown): NetworkError {
  return new NetworkError(
    `${context.source}: the request to ${origin(url)} failed (${describeFailure(error, context.secrets)}). Check the network and the base URL.`,
    { cause: redactError(error, context.secrets) },
  );
}

/** The `NetworkError` for a body that broke off while streaming. */
export function brokenConnection(context: ErrorContext, error: unknown): NetworkError {
  return new NetworkError(
    `${context.source}: the connection broke while the answer was streaming (${describeFailure(error, context.secrets)}).`,
    { cause: redactError(error, context.secrets) },
  );
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

/** The origin of a URL, for messages (never its path or query, which may hold a key). */
export function origin(url: string): string {
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
