import { StreamError } from '../errors.js';
import type { RelayEvent } from './relayStore.js';

/** The relay's own errors: their messages say nothing about the server, so they go out as they are. */
const RELAY_ERRORS = new Set(['RelayStreamNotFoundError', 'RelayForbiddenError', 'RelayLogFullError', 'RelayBusyError', 'RelayLeaseLostError']);

/**
 * The `error` event a browser gets for `error`: `{ name, message, retryable }`.
 * The message is generic (the provider's text, URLs and hosts stay on the
 * server) unless `expose` is true or the error is one of the relay's own.
 * `retryable` is the error's own for errors a reader meets; a producer's
 * failure is stored as not retryable (`final`), since resuming an ended log
 * only gets the same entry again: a new answer needs a new stream id.
 *
 * ```text
 * HttpError 500 "upstream http://10.0.0.1:1 ..."  →  {"name":"HttpError","message":"The answer failed upstream.","retryable":false}
 * ```
 *
 * @example
 * ```ts
 * const event = relayErrorEvent(error, { expose: false, final: true });
 * ```
 */
export function relayErrorEvent(error: unknown, { expose, final }: { expose: boolean; final: boolean }): RelayEvent {
  const name = error instanceof Error && /^[A-Za-z][A-Za-z0-9_]{0,59}$/.test(error.name) ? error.name : 'Error';
  const own = RELAY_ERRORS.has(name) && error instanceof StreamError;
  const message = (expose || own) && error instanceof Error ? error.message : 'The answer failed upstream.';
  const retryable = !final && error instanceof StreamError && error.retryable;
  return { event: 'error', data: JSON.stringify({ name, message, retryable }) };
}
