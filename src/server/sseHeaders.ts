/**
 * The response headers an SSE stream needs behind proxies: the type, no
 * caching and no transformation (so compression middleware leaves it alone),
 * and `X-Accel-Buffering: no` (so nginx does not buffer it).
 */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
});
