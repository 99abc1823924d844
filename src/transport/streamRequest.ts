import type { SchedulerLike } from 'rxjs';
import { extended } from '../internal/extended.js';
import type { FetchLike, HttpRequest } from './fetchBytes.js';
import { DEFAULT_MAX_EVENT_SIZE } from './parseServerSentEvents.js';
import { assertDuration, assertFunction, assertHeaders } from '../internal/validate.js';

export type { FetchLike };
export { DEFAULT_MAX_EVENT_SIZE };

/** Extra headers: an object, or a function called on every subscription (fresh tokens per attempt). */
export type HeadersInput =
  | Record<string, string>
  | (() => Record<string, string> | Promise<Record<string, string>>);

/** Transport options every source shares. */
export interface TransportOptions {
  /** Extra headers, or a function called on every subscription that returns them. */
  headers?: HeadersInput | undefined;
  /**
   * The `fetch` to use. Default: `globalThis.fetch`, looked up on every
   * subscription (so a `fetch` patched later, by MSW or zone.js, is used).
   */
  fetch?: FetchLike | undefined;
  /**
   * Milliseconds without a single byte, counted from the request and after
   * every byte, before the request is aborted with `IdleTimeoutError`.
   * `0` or `Infinity` turns it off. Default: 60000.
   */
  idleTimeout?: number | undefined;
  /**
   * The most characters one SSE event (or one line) may buffer before the
   * stream fails with `ParseError`, so a server that never ends a line cannot
   * grow memory without bound. Default: 4 MiB of characters.
   */
  maxEventSize?: number | undefined;
  /**
   * The clock and timers of the idle timeout. Default: `asyncScheduler`.
   * Pass a `TestScheduler` (or any `SchedulerLike`) to drive it in virtual
   * time, or a scheduler that runs inside or outside a framework's zone.
   */
  scheduler?: SchedulerLike | undefined;
}

export const DEFAULT_IDLE_TIMEOUT = 60_000;

/** Everything a subscription needs to make its request, checked once up front. */
export interface StreamRequest {
  /** Who makes the request, for messages: `fromChatCompletion`, ... */
  source: string;
  url: string;
  /** Default `'POST'`; a `'GET'` sends no body (a resumed Responses API stream). */
  method?: 'GET' | 'POST';
  body: string;
  headers: Record<string, string>;
  extraHeaders?: HeadersInput;
  /** The injected `fetch`; `undefined`: `globalThis.fetch`, looked up per subscription. */
  fetch: FetchLike | undefined;
  idleTimeout: number;
  scheduler: SchedulerLike | undefined;
  maxEventSize: number;
  /** Values never to repeat in an error: the API key and credential headers. */
  secrets: string[];
}

/** Header names whose values are credentials and must never appear in an error. */
export const CREDENTIAL_HEADER = /auth|key|token|secret|cookie|password|signature/i;

/** Values of the credential headers among `headers`. */
export function credentialValues(headers: Record<string, string>): string[] {
  return Object.entries(headers)
    .filter(([name]) => CREDENTIAL_HEADER.test(name))
    .map(([, value]) => value);
}

/** Validates the shared transport options; throws `TypeError`/`RangeError` before any request. */
export function prepareStreamRequest(
  source: string,
  options: TransportOptions,
  request: { url: string; body: string; headers: Record<string, string>; secrets: string[] },
): StreamRequest {
  const { headers: extraHeaders, idleTimeout = DEFAULT_IDLE_TIMEOUT, maxEventSize = DEFAULT_MAX_EVENT_SIZE } = options;
  const secrets = [...request.secrets];
  if (typeof extraHeaders === 'function') assertFunction(`${source}: options.headers`, extraHeaders);
  else if (extraHeaders !== undefined) secrets.push(...credentialValues(assertHeaders(`${source}: options.headers`, extraHeaders)));
  const { fetch, scheduler } = options;
  if (fetch !== undefined) assertFunction(`${source}: options.fetch`, fetch);
  else if (typeof globalThis.fetch !== 'function') {
    throw new TypeError(`${source}: this runtime has no global fetch; pass one as options.fetch.`);
  }
  if (scheduler !== undefined && (typeof scheduler !== 'object' || scheduler === null || typeof scheduler.schedule !== 'function' || typeof scheduler.now !== 'function')) {
    throw new TypeError(`${source}: options.scheduler must be an RxJS SchedulerLike (with schedule and now), such as asyncScheduler.`);
  }
  assertDuration(`${source}: options.idleTimeout`, idleTimeout, { allowInfinity: true });
  if (typeof maxEventSize !== 'number' || !(maxEventSize >= 1)) {
    throw new RangeError(`${source}: options.maxEventSize must be a number of characters, 1 or more (Infinity allowed).`);
  }
  return extended(request, { source, extraHeaders, fetch, idleTimeout, maxEventSize, scheduler, secrets });
}

/**
 * The HTTP request of one subscription: the fixed headers plus the extra ones
 * (a headers function is called now, so each attempt gets fresh tokens).
 */
export function httpRequestOf(request: StreamRequest): HttpRequest | Promise<HttpRequest> {
  const { extraHeaders, source } = request;
  const method = request.method ?? 'POST';
  // A GET carries no body.
  const body = method === 'GET' ? undefined : request.body;
  if (typeof extraHeaders !== 'function') {
    return { method, url: request.url, body, headers: { ...request.headers, ...extraHeaders }, secrets: request.secrets };
  }
  return Promise.resolve(extraHeaders()).then((result) => {
    const fresh = assertHeaders(`${source}: the headers function's result`, result);
    return {
      method,
      url: request.url,
      body,
      headers: { ...request.headers, ...fresh },
      secrets: [...request.secrets, ...credentialValues(fresh)],
    };
  });
}
