import type { ServerResponse } from 'node:http';
import { concatMap, Observable, type Subscription } from 'rxjs';
import { SSE_HEADERS } from './sseHeaders.js';

/** Options of `writeServerSentEvents`. */
export interface WriteServerSentEventsOptions {
  /** Status when the headers are not sent yet. Default: 200. */
  status?: number | undefined;
  /** Extra response headers (CORS, ...), merged over the SSE headers. */
  headers?: Record<string, string> | undefined;
}

/**
 * Streams SSE frames (from `toServerSentEvents`) into a Node `ServerResponse`
 * (plain `http`, Express, Fastify after `reply.hijack()`): writes the SSE
 * headers at once, writes each frame in turn, waiting for `'drain'` whenever
 * `write()` says the socket's buffer is full, ends the response when the
 * frames complete, and unsubscribes (aborting the provider request upstream)
 * when the response closes: the client went away. The response's `close` is
 * used, not the request's, which fires as soon as a POST body is read.
 *
 * ```text
 * frames:    --A--B---C--|
 * response:  (headers)--A--B---C--end
 * client:    ------x            (gone)  →  upstream unsubscribed
 * ```
 *
 * @example
 * ```ts
 * app.post('/chat', (req, res) => {
 *   const frames = fromChatCompletion({ apiKey, body: req.body }).pipe(untilDone(), toServerSentEvents());
 *   writeServerSentEvents(res, frames);
 * });
 * ```
 */
export function writeServerSentEvents(
  response: ServerResponse,
  frames: Observable<string>,
  options: WriteServerSentEventsOptions = {},
): Subscription {
  if (!response.headersSent) {
    const connection = response.req?.httpVersionMajor === 1 ? { Connection: 'keep-alive' } : {};
    response.writeHead(options.status ?? 200, { ...SSE_HEADERS, ...connection, ...options.headers });
    response.flushHeaders();
  }
  response.socket?.setNoDelay(true);
  const subscription = frames.pipe(concatMap((frame) => writeFrame(response, frame))).subscribe({
    complete: () => response.end(),
    error: () => response.destroy(),
  });
  response.once('close', () => subscription.unsubscribe());
  return subscription;
}

/** Writes one frame; completes at once, or on `'drain'` when the buffer is full. */
function writeFrame(response: ServerResponse, frame: string): Observable<never> {
  return new Observable<never>((subscriber) => {
    if (response.destroyed || response.writableEnded) return subscriber.complete();
    if (response.write(frame)) return subscriber.complete();
    const drained = () => subscriber.complete();
    response.once('drain', drained);
    return () => response.off('drain', drained);
  });
}
