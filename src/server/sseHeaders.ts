/**
 * The response headers an SSE stream needs behind proxies: the type, no
 * caching and no transformation (so compression middleware leaves it alone),
 * and `X-Accel-Buffering: no` (so nginx does not buffer it).
 *
 * @example
 * ```ts
 * // A hand-written Node route: send the headers, then the frames.
 * response.writeHead(200, SSE_HEADERS);
 * answer$.pipe(toServerSentEvents()).subscribe({ next: (frame) => response.write(frame), complete: () => response.end() });
 * ```
 */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
});
