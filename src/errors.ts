/**
 * The typed errors of rxjs-llm-stream. Every class has a stable `name`, because
 * the ESM and CJS copies of a class are different objects: check `error.name`
 * (or `isRetryable`) rather than `instanceof` when both copies may be loaded.
 *
 * Messages say what happened and what to do; none of them, nor any field or
 * cause, ever contains an API key or a credential header value in the forms
 * listed in docs/security.md. Text a server supplied is stripped of control
 * characters and terminal escape sequences before it lands in an error.
 */

import { stripControls } from './internal/redact.js';

/** HTTP statuses worth another attempt: timeouts, conflicts, rate limits, server faults. */
const RETRYABLE_STATUSES = new Set([408, 409, 425, 429]);

/**
 * Whether an HTTP status is transient: 408, 409, 425, 429 and every 5xx.
 *
 * @example
 * ```ts
 * if (!response.ok && !isRetryableStatus(response.status)) showError('Fix the request: retrying will not help.');
 * ```
 */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status) || (status >= 500 && status <= 599);
}

/**
 * The base class: `retryable` says whether the same request may succeed later.
 *
 * @example
 * ```ts
 * if (error instanceof StreamError && error.retryable) showRetryButton(); // across ESM and CJS copies, use isStreamError(error)
 * ```
 */
export class StreamError extends Error {
  override readonly name: string = 'StreamError';
  constructor(message: string, readonly retryable: boolean, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * A non-2xx response. `retryAfterMs` comes from `retry-after-ms` or `Retry-After`.
 *
 * @example
 * ```ts
 * if (isHttpError(error) && error.status === 429) showError(`Rate limited; the server asked to wait ${error.retryAfterMs ?? '?'} ms.`);
 * ```
 */
export class HttpError extends StreamError {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    super(message, isRetryableStatus(status), options);
  }
}

/**
 * `fetch` rejected (connection refused, reset, DNS) or reading the body failed.
 *
 * @example
 * ```ts
 * if (isNetworkError(error)) showError('No connection to the server: check the network or the baseURL.');
 * ```
 */
export class NetworkError extends StreamError {
  override readonly name = 'NetworkError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, true, options);
  }
}

/**
 * No byte arrived for `timeoutMs`; the request was aborted.
 *
 * @example
 * ```ts
 * fromChatCompletion({ ...options, idleTimeout: 10 * 60_000 }); // after an IdleTimeoutError from a model that thinks for minutes
 * ```
 */
export class IdleTimeoutError extends StreamError {
  override readonly name = 'IdleTimeoutError';
  /** `source` (e.g. `'fromChatCompletion'`) prefixes the message, as in every other error of a source. */
  constructor(readonly timeoutMs: number, source?: string) {
    super(
      `${source ? `${source}: ` : ''}No data arrived for ${timeoutMs} ms, so the request was aborted. ` +
        'If the model thinks for long before its first token, raise `idleTimeout`.',
      true,
    );
  }
}

/**
 * The stream ended before its end marker (`[DONE]`): the answer is incomplete.
 *
 * @example
 * ```ts
 * source$.pipe(untilDone(), retryWithBackoff()); // untilDone errors with StreamInterruptedError when the body ends before [DONE]; it is retried
 * ```
 */
export class StreamInterruptedError extends StreamError {
  override readonly name = 'StreamInterruptedError';
  constructor(message = 'The stream ended before [DONE]: the answer is incomplete.') {
    super(message, true);
  }
}

/** The fields of a provider's error object, as far as it gave them. */
export interface ApiErrorDetails {
  /** `type` (OpenAI, Anthropic) or `status` (Gemini), e.g. `server_error`, `overloaded_error`, `UNAVAILABLE`. */
  type?: string;
  code?: string | number;
  param?: string;
}

/** Error types and statuses by which providers say "overloaded" or "our fault". */
const RETRYABLE_API_ERROR_TYPES = new Set([
  'server_error',
  'overloaded_error',
  'api_error',
  'internal_error',
  'internal_server_error',
  'service_unavailable',
  'rate_limit_error',
  'rate_limit_exceeded',
  'timeout_error',
  'RESOURCE_EXHAUSTED',
  'UNAVAILABLE',
  'INTERNAL',
  'DEADLINE_EXCEEDED',
]);

/**
 * An `{"error": {...}}` object sent inside the stream after a 200.
 *
 * @example
 * ```ts
 * if (isApiError(error)) showError(`The provider failed mid-answer: ${error.message}${error.retryable ? ' (retried)' : ''}`);
 * ```
 */
export class ApiError extends StreamError {
  override readonly name = 'ApiError';
  readonly type?: string;
  readonly code?: string | number;
  readonly param?: string;
  constructor(message: string, details: ApiErrorDetails = {}, options?: ErrorOptions) {
    super(message, isRetryableApiError(details), options);
    this.type = details.type;
    this.code = details.code;
    this.param = details.param;
  }
}

function isRetryableApiError({ type, code }: ApiErrorDetails): boolean {
  if (type !== undefined && RETRYABLE_API_ERROR_TYPES.has(type)) return true;
  if (typeof code === 'string' && RETRYABLE_API_ERROR_TYPES.has(code)) return true;
  const status = typeof code === 'string' && /^\d{3}$/.test(code) ? Number(code) : code;
  return typeof status === 'number' && isRetryableStatus(status);
}

/**
 * A payload that is not what the protocol promises; `excerpt` holds its start.
 *
 * @example
 * ```ts
 * if (isParseError(error)) report(`Not a valid stream: ${error.message}`); // not retryable: the server sent something else
 * ```
 */
export class ParseError extends StreamError {
  override readonly name = 'ParseError';
  constructor(
    message: string,
    readonly excerpt: string,
    options?: ErrorOptions,
  ) {
    super(message, false, options);
  }
}

/**
 * A background Responses API request was accepted (a 2xx answer), but its
 * stream broke off before `response.created` named the response: it may be
 * running, and billed, at the provider, and without its id it can be neither
 * resumed nor cancelled. Not retryable, so that a retry does not start (and
 * bill) a second answer; `cause` is the error that broke the stream. To ask
 * again anyway, subscribe again, or let `shouldRetry` accept this `name`.
 *
 * @example
 * ```ts
 * fromResponses({ apiKey, body: { model, input, background: true } }).pipe(
 *   untilDone(),
 *   retryWithBackoff({ shouldRetry: (error) => isRetryable(error) || (error as Error).name === 'OrphanedResponseError' }),
 * );
 * ```
 */
export class OrphanedResponseError extends StreamError {
  override readonly name = 'OrphanedResponseError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, false, options);
  }
}

/**
 * A Durable Streams server answered a read (`fromDurableStream`: a catch-up
 * or long-poll answer, or an SSE `control` event) with a next offset below
 * the offset the read stood at (`offset`), or with data whose next offset
 * equals it: offsets only grow, and data always moves them. None of the
 * answer's data was emitted and the offset stayed where it was, so
 * `retryWithBackoff` reads again from there, with backoff. Retryable: a
 * server that is briefly inconsistent (a store under load) answers the next
 * read right; one that always does ends the chain with this error once its
 * retries are spent. `offset` and `nextOffset` are the two offsets, redacted,
 * stripped of controls, on one line and cut at 120 characters.
 *
 * @example
 * ```ts
 * fromDurableStream({ url }).pipe(
 *   retryWithBackoff({ onRetry: ({ error }) => (error as Error).name === 'InconsistentOffsetError' && report('the server went back: read again') }),
 * );
 * ```
 */
export class InconsistentOffsetError extends StreamError {
  override readonly name = 'InconsistentOffsetError';
  constructor(
    message: string,
    readonly offset: string,
    readonly nextOffset: string,
  ) {
    super(message, true);
  }
}

/**
 * Whether an error is worth another attempt: reads `retryable` of this
 * library's errors; `false` for anything else, including an abort.
 *
 * @example
 * ```ts
 * retryWithBackoff({ shouldRetry: (error, attempt) => isRetryable(error) && attempt < 3 });
 * ```
 */
export function isRetryable(error: unknown): boolean {
  return error instanceof Error && (error as Partial<StreamError>).retryable === true;
}

/**
 * The whole answer did not complete within `timeoutMs` of subscribing (retries
 * and their waits included when the deadline sits after `retryWithBackoff`),
 * so the request was aborted. Not retryable: the time is spent. The message
 * starts with whoever set the deadline (`source`, by default `withDeadline`).
 *
 * @example
 * ```ts
 * answer$.pipe(retryWithBackoff(), withDeadline(30_000)).subscribe({ error: (error: Error) => error.name === 'DeadlineExceededError' && showError('Too slow') });
 * ```
 */
export class DeadlineExceededError extends StreamError {
  override readonly name = 'DeadlineExceededError';
  constructor(
    readonly timeoutMs: number,
    source = 'withDeadline',
  ) {
    super(
      `${source}: the answer did not complete within ${timeoutMs} ms, so the request was aborted. ` +
        'Raise the deadline if a whole answer may take longer.',
      false,
    );
  }
}

// ---------------------------------------------------------------- structured output

/** One problem a schema found in a structured answer: what, and where (`['items', 0, 'name']`). */
export interface SchemaIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>;
}

/**
 * A streamed structured answer that is not valid JSON or that its schema
 * rejects, found when the stream completed (`parseJsonAsItStreams` with a
 * `schema`). Not retryable unless the operator was told `retryOnMismatch`:
 * then `retryWithBackoff` asks again. `issues` are the schema's own; `value`
 * is the parsed answer (`undefined` when it was not JSON).
 *
 * @example
 * ```ts
 * answer$.pipe(parseJsonAsItStreams({ schema })).subscribe({ error: (error: Error) => error.name === 'SchemaValidationError' && showError(error.message) });
 * ```
 */
export class SchemaValidationError extends StreamError {
  override readonly name = 'SchemaValidationError';
  /**
   * The parsed answer (`undefined` when it was not JSON). Not enumerable, so
   * `JSON.stringify(error)` and loggers that walk an error's fields do not
   * copy a whole (possibly megabytes long) answer.
   */
  declare readonly value: unknown;
  constructor(
    readonly issues: readonly SchemaIssue[],
    value: unknown,
    retryable = false,
    options?: ErrorOptions,
  ) {
    super(
      `The structured answer does not match its schema: ${issues.slice(0, 3).map(describeIssue).join('; ')}` +
        `${issues.length > 3 ? ` (and ${issues.length - 3} more)` : ''}. ` +
        'Check the schema sent to the provider, or let retryWithBackoff ask again (retryOnMismatch).',
      retryable,
      options,
    );
    Object.defineProperty(this, 'value', { value, enumerable: false, writable: false, configurable: true });
  }
}

/** The longest path or issue message an error message repeats, in characters. */
const MAX_ISSUE_TEXT = 200;

/**
 * One issue on one line: the path's keys (chosen by the model) and the
 * message stripped of controls and terminal escapes, whitespace collapsed,
 * each cut at `MAX_ISSUE_TEXT` characters.
 */
function describeIssue(issue: SchemaIssue): string {
  const path = oneLine((issue.path ?? []).map((segment) => String(typeof segment === 'object' && segment !== null ? segment.key : segment).slice(0, MAX_ISSUE_TEXT)).join('.'));
  const message = oneLine(String(issue.message));
  return path === '' ? message : `${path}: ${message}`;
}

/** `text` without controls or terminal escapes, on one line, at most `MAX_ISSUE_TEXT` characters. */
function oneLine(text: string): string {
  const cleaned = stripControls(text.slice(0, MAX_ISSUE_TEXT * 4)).replace(/\s+/g, ' ').trim();
  return cleaned.length > MAX_ISSUE_TEXT ? `${cleaned.slice(0, MAX_ISSUE_TEXT)}…` : cleaned;
}
