import { assertDuration, assertFunction, assertHeaders } from './validate.js';

/** Extra headers: an object, or a function called on every subscription (fresh tokens per attempt). */
export type HeadersInput =
  | Record<string, string>
  | (() => Record<string, string> | Promise<Record<string, string>>);

/** The part of `fetch` the sources use; inject one for tests, proxies and frameworks. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** Transport options every source shares. */
export interface TransportOptions {
  /** Extra headers, or a function called on every subscription that returns them. */
  headers?: HeadersInput | undefined;
  /** The `fetch` to use. Default: `globalThis.fetch`. */
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
}

export const DEFAULT_IDLE_TIMEOUT = 60_000;
export const DEFAULT_MAX_EVENT_SIZE = 4 * 1024 * 1024;

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
  fetch: FetchLike;
  idleTimeout: number;
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
  const fetch = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
  if (fetch === undefined) {
    throw new TypeError(`${source}: this runtime has no global fetch; pass one as options.fetch.`);
  }
  assertFunction(`${source}: options.fetch`, fetch);
  assertDuration(`${source}: options.idleTimeout`, idleTimeout, { allowInfinity: true });
  if (typeof maxEventSize !== 'number' || !(maxEventSize >= 1)) {
    throw new RangeError(`${source}: options.maxEventSize must be a number of characters, 1 or more (Infinity allowed).`);
  }
  return { ...request, source, extraHeaders, fetch, idleTimeout, maxEventSize, secrets };
}
