/**
 * The `url` option of the sources that read a URL as given (`fromServerSentEvents`,
 * `fromDurableStream`): a string, or a function called once per request.
 * Returns a function giving the checked URL of each request; `source` names
 * the source in every error.
 */
export function sourceUrlOf(source: string, value: unknown): () => string {
  if (typeof value === 'function') {
    const pick = value as () => unknown;
    return () => checkedUrl(`${source}: the url function's result`, pick());
  }
  const url = checkedUrl(`${source}: options.url`, value);
  return () => url;
}

/** An absolute http(s) URL (a relative one resolved against the page, where there is one), without credentials. */
function checkedUrl(where: string, value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`${where} must be a string URL (or, for options.url, a function returning one).`);
  const base = (globalThis as { location?: { href?: unknown } }).location?.href;
  let url: URL;
  try {
    url = new URL(value, typeof base === 'string' ? base : undefined);
  } catch {
    throw new TypeError(`${where} is not a valid absolute URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`${where} must use http: or https:, got ${url.protocol}`);
  if (url.username !== '' || url.password !== '') {
    throw new TypeError(`${where} must not hold credentials (user:password@ before the host); pass them in options.headers.`);
  }
  return url.href;
}
