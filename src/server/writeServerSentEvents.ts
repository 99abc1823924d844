import type { ServerResponse } from 'node:http';
import { concatMap, fromEvent, map, merge, Observable, of, Subscription, take, tap } from 'rxjs';
import { pulledFrames, type FramesDemand } from './pullFrames.js';
import { SSE_HEADERS } from './sseHeaders.js';

/** Options of `writeServerSentEvents`. */
export interface WriteServerSentEventsOptions {
  /** Status when the headers are not sent yet. Default: 200. */
  status?: number | undefined;
  /** Extra response headers (CORS, ...), merged over the SSE headers. */
  headers?: Record<string, string> | undefined;
}

/**
 * Streams SSE frames (from `toServerSentEvents`, or a relay's `frames`) into
 * a Node `ServerResponse` (plain `http`, Express, Fastify after
 * `reply.hijack()`): writes the SSE headers at once, writes each frame in
 * turn, waiting for `'drain'` whenever `write()` says the socket's buffer is
 * full, ends the response when the frames complete, and unsubscribes
 * (aborting the provider request upstream) when the response closes: the
 * client went away. The response's `close` is used, not the request's, which
 * fires as soon as a POST body is read. A relay's frames (`PullFrames`) are
 * told of the client instead: they read their next page only once it has
 * drained. Unsubscribing the returned `Subscription` ends the response (the
 * client sees a cut without an end event, and may resume); a response that
 * already closed (the client left while the route awaited) is not written.
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
  if (response.destroyed || response.writableEnded || (response as { closed?: boolean }).closed === true) {
    const nothing = new Subscription();
    nothing.unsubscribe();
    return nothing;
  }
  if (!response.headersSent) {
    const connection = response.req?.httpVersionMajor === 1 ? { Connection: 'keep-alive' } : {};
    response.writeHead(options.status ?? 200, { ...SSE_HEADERS, ...connection, ...options.headers });
    response.flushHeaders();
  }
  response.socket?.setNoDelay(true);
  const demand: FramesDemand = {
    buffered: () => response.writableLength,
    backedUp: () => response.writableNeedDrain && !response.destroyed,
    drained: () =>
      !response.writableNeedDrain || response.destroyed
        ? of(undefined)
        : merge(fromEvent(response, 'drain'), fromEvent(response, 'close')).pipe(
            take(1),
            map(() => undefined),
          ),
  };
  const paced = pulledFrames(frames, demand);
  // Frames that pull wait for the client themselves: each is written at once. Others wait here for 'drain'.
  const written = paced === frames ? frames.pipe(concatMap((frame) => writeFrame(response, frame))) : paced.pipe(tap((frame) => writeNow(response, frame)));
  const subscription = written.subscribe({
      complete: () => response.end(),
      error: () => response.destroy(),
    });
  subscription.add(() => {
    if (!response.writableEnded && !response.destroyed) response.end();
  });
  response.once('close', () => subscription.unsubscribe());
  return subscription;
}

function writeNow(response: ServerResponse, frame: string): void {
  if (!response.destroyed && !response.writableEnded) response.write(frame);
}

/** Writes one frame; completes at once, or on `'drain'` when the buffer is full. */
function writeFrame(response: ServerResponse, frame: string): Observable<never> {
  return new Observable<never>((subscriber) => {
    if (response.destroyed || response.writableEnded) return subscriber.complete();
    if (response.write(frame)) return subscriber.complete();
    const drained = () => subscriber.complete();
    response.once('drain', drained);
    response.once('close', drained);
    return () => {
      response.off('drain', drained);
      response.off('close', drained);
    };
  });
}
