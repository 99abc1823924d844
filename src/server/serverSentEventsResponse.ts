import { concat, concatMap, defer, EMPTY, Observable, type Subscription } from 'rxjs';
import { SSE_HEADERS } from './sseHeaders.js';

/** Options of `serverSentEventsResponse`. */
export interface ServerSentEventsResponseOptions {
  /** Default: 200. */
  status?: number | undefined;
  /** Extra response headers, merged over the SSE headers. */
  headers?: Record<string, string> | undefined;
  /** Frames the stream may hold before it stops taking more until the client reads. Default: 16. */
  highWaterMark?: number | undefined;
}

/**
 * A Web `Response` streaming SSE frames (from `toServerSentEvents`), for Hono,
 * Next.js route handlers, Bun, Deno and workers. The body is pull-based: a
 * frame is handed over only while the stream's queue has room, so a slow
 * client makes the frames wait upstream of it. Cancelling the body (the
 * client went away) unsubscribes, which aborts the provider request.
 *
 * ```text
 * frames:  --A--B--C--|
 * body:    --A--B--C--(close)
 * client:  ----x           → upstream unsubscribed
 * ```
 *
 * @example
 * ```ts
 * export function POST(request: Request): Response {
 *   const frames = fromChatCompletion({ apiKey, body: { model, messages } }).pipe(untilDone(), toServerSentEvents());
 *   return serverSentEventsResponse(frames);
 * }
 * ```
 */
export function serverSentEventsResponse(frames: Observable<string>, options: ServerSentEventsResponseOptions = {}): Response {
  const encoder = new TextEncoder();
  let subscription: Subscription | undefined;
  let pulled: (() => void) | undefined;
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const room = () =>
          (controller.desiredSize ?? 1) > 0
            ? EMPTY
            : new Observable<never>((subscriber) => {
                pulled = () => subscriber.complete();
                return () => (pulled = undefined);
              });
        subscription = frames
          .pipe(concatMap((frame) => concat(defer(room), defer(() => (controller.enqueue(encoder.encode(frame)), EMPTY)))))
          .subscribe({ complete: () => controller.close(), error: (error: unknown) => controller.error(error) });
      },
      pull() {
        pulled?.();
      },
      cancel() {
        subscription?.unsubscribe();
      },
    },
    new CountQueuingStrategy({ highWaterMark: options.highWaterMark ?? 16 }),
  );
  return new Response(body, { status: options.status ?? 200, headers: { ...SSE_HEADERS, ...options.headers } });
}
