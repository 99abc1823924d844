/**
 * Type guards for the library's errors. They check `error.name` and the
 * boolean `retryable`, not `instanceof`: an application that loads both the
 * ESM and the CJS copy of the package (a bundler and a test runner, say) has
 * two `HttpError` classes, and `instanceof` would answer `false` for the
 * other copy's errors.
 */
import type {
  ApiError,
  HttpError,
  IdleTimeoutError,
  NetworkError,
  ParseError,
  StreamError,
  StreamInterruptedError,
} from './errors.js';

/** Whether `error` is an object whose `name` is `name` and whose `retryable` is a boolean. */
function isNamed(error: unknown, name: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name: actual, retryable } = error as { name?: unknown; retryable?: unknown };
  return actual === name && typeof retryable === 'boolean';
}

/**
 * Whether `error` is one of the library's errors (`StreamError` or a subclass):
 * an error with a string `name` and `message` and a boolean `retryable`.
 *
 * @example
 * ```ts
 * if (isStreamError(error) && !error.retryable) showError(error.message);
 * ```
 */
export function isStreamError(error: unknown): error is StreamError {
  if (typeof error !== 'object' || error === null) return false;
  const { name, message, retryable } = error as { name?: unknown; message?: unknown; retryable?: unknown };
  return typeof name === 'string' && typeof message === 'string' && typeof retryable === 'boolean';
}

/**
 * Whether `error` is an `HttpError`: the server answered a non-2xx status
 * (`error.status`, and `error.retryAfterMs` when it sent `Retry-After`).
 *
 * @example
 * ```ts
 * if (isHttpError(error) && error.status === 401) askForANewKey();
 * ```
 */
export function isHttpError(error: unknown): error is HttpError {
  return isNamed(error, 'HttpError');
}

/**
 * Whether `error` is a `NetworkError`: `fetch` failed or the connection broke
 * while the body streamed. Always retryable.
 *
 * @example
 * ```ts
 * if (isNetworkError(error)) showOfflineHint();
 * ```
 */
export function isNetworkError(error: unknown): error is NetworkError {
  return isNamed(error, 'NetworkError');
}

/**
 * Whether `error` is an `IdleTimeoutError`: no byte arrived for
 * `error.timeoutMs`, and the request was aborted. Always retryable.
 *
 * @example
 * ```ts
 * if (isIdleTimeoutError(error)) console.warn(`silent for ${error.timeoutMs} ms`);
 * ```
 */
export function isIdleTimeoutError(error: unknown): error is IdleTimeoutError {
  return isNamed(error, 'IdleTimeoutError');
}

/**
 * Whether `error` is a `StreamInterruptedError`: the body ended before its
 * end marker (`untilDone`), so the answer is incomplete. Always retryable.
 *
 * @example
 * ```ts
 * if (isStreamInterruptedError(error)) showError('The answer was cut off.');
 * ```
 */
export function isStreamInterruptedError(error: unknown): error is StreamInterruptedError {
  return isNamed(error, 'StreamInterruptedError');
}

/**
 * Whether `error` is an `ApiError`: the provider sent an error object inside
 * a 200 stream (`error.type`, `error.code`, `error.param`).
 *
 * @example
 * ```ts
 * if (isApiError(error) && error.type === 'overloaded_error') showError('The model is busy.');
 * ```
 */
export function isApiError(error: unknown): error is ApiError {
  return isNamed(error, 'ApiError');
}

/**
 * Whether `error` is a `ParseError`: the server sent something that is not
 * an event stream of JSON objects (`error.excerpt` quotes a short piece).
 * Never retryable.
 *
 * @example
 * ```ts
 * if (isParseError(error)) reportBug(error.excerpt);
 * ```
 */
export function isParseError(error: unknown): error is ParseError {
  return isNamed(error, 'ParseError');
}
