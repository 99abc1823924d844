// src/internal/: only what every part uses: redaction, validation, error objects, the retry chain,
// extended(). Imports nothing of the library but errors.ts and its own files (npm run lint:layout).

/** Checks that fail fast, when a source or operator is created, before any request. */

/** A non-negative number of milliseconds; `Infinity` only where `allowInfinity`. */
export function assertDuration(where: string, value: unknown, { allowInfinity = false } = {}): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${where} must be a number of milliseconds, got ${describe(value)}.`);
  }
  if (value < 0 || (!allowInfinity && value === Infinity)) {
    throw new RangeError(`${where} must be ${allowInfinity ? '0 or more (Infinity allowed)' : 'a finite number, 0 or more'}, got ${value}.`);
  }
  return value;
}

/**
 * An absolute http(s) URL without credentials, returned without trailing
 * slashes. A `user:password@` part is refused (and never repeated): it would
 * travel into every request and error; credentials go in `apiKey` or `headers`.
 */
export function assertHttpUrl(where: string, value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`${where} must be a string URL, got ${describe(value)}.`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${where} is not a valid absolute URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`${where} must use http: or https:, got ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new TypeError(`${where} must not hold credentials (user:password@ before the host); pass them as options.apiKey or options.headers.`);
  }
  return value.replace(/\/+$/, '');
}

/**
 * `{baseURL}/{path}`: the base URL checked as by `assertHttpUrl`, the path
 * joined to its path (one slash between them), the base's query kept after
 * it (Azure's `?api-version=…`) with `query` added, its fragment dropped
 * (a fragment is never sent). `path` is used as given (encode its parts).
 */
export function joinBaseUrl(where: string, baseURL: unknown, path: string, query: Record<string, string> = {}): string {
  assertHttpUrl(where, baseURL);
  const url = new URL(baseURL as string);
  url.hash = '';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url.href;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A plain object of header names to string values, with no CR, LF or NUL in them. */
export function assertHeaders(where: string, headers: unknown): Record<string, string> {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new TypeError(`${where} must be an object of header names to strings, got ${describe(headers)}.`);
  }
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) throw new TypeError(`${where}: "${name.slice(0, 40)}" is not a valid header name.`);
    assertHeaderValue(`${where}['${name}']`, value);
  }
  return headers as Record<string, string>;
}

/** A string usable as a header value; the message never quotes the value, which may be a secret. */
export function assertHeaderValue(where: string, value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`${where} must be a string, got ${describe(value)}.`);
  if (/[\r\n\0]/.test(value)) throw new TypeError(`${where} contains a line break or NUL, which a header value cannot hold.`);
  return value;
}

export function assertFunction<F>(where: string, value: unknown): F {
  if (typeof value !== 'function') throw new TypeError(`${where} must be a function, got ${describe(value)}.`);
  return value as F;
}

export function assertObject<T extends object>(where: string, value: unknown): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${where} must be an object, got ${describe(value)}.`);
  }
  return value as T;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? 'a string' : typeof value;
}

/**
 * `options.apiKey` checked for a header: `undefined` when left out, else a
 * non-empty value without CR/LF. `whenEmpty` tells the user what to do instead.
 */
export function assertApiKey(source: string, value: unknown, whenEmpty: string): string | undefined {
  if (value === undefined) return undefined;
  const apiKey = assertHeaderValue(`${source}: options.apiKey`, value);
  if (apiKey === '') throw new TypeError(`${source}: options.apiKey is empty; ${whenEmpty}.`);
  return apiKey;
}
