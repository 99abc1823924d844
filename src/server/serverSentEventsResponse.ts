import { concat, concatMap, defer, EMPTY, ignoreElements, Observable, of, tap, type Subscription } from 'rxjs';
import { pulledFrames, type FramesDemand } from './pullFrames.js';
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
 * A Web `Response` streaming SSE frames (from `toServerSentEvents`, or a
 * relay's `frames`), for Hono, Next.js route handlers, Bun, Deno and workers.
 * The body is pull-based: a frame is handed over only while the stream's
 * queue has room, so a slow client makes the frames wait upstream of it. A
 * relay's frames (`PullFrames`) are told of the client instead: they read
 * their next page only once the body's queue has room. Cancelling the body
 * (the client went away) unsubscribes, which aborts the provider request.
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
  const highWaterMark = options.highWaterMark ?? 16;
  let subscription: Subscription | undefined;
  let pulled: (() => void) | undefined;
  let buffered = 0;
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
        const enqueue = (frame: string) => {
          const bytes = encoder.encode(frame);
          buffered += bytes.byteLength;
          controller.enqueue(bytes);
        };
        const demand: FramesDemand = {
          // The queue counts frames; the bytes it holds are counted here, less what the client pulled.
          buffered: () => ((controller.desiredSize ?? 0) >= highWaterMark ? (buffered = 0) : buffered),
          drained: () => concat(room(), of(undefined)),
          backedUp: () => (controller.desiredSize ?? 1) <= 0,
        };
        const paced = pulledFrames(frames, demand);
        const written =
          paced === frames ? frames.pipe(concatMap((frame) => concat(defer(room), defer(() => (enqueue(frame), EMPTY))))) : paced.pipe(tap(enqueue), ignoreElements());
        subscription = written.subscribe({ complete: () => controller.close(), error: (error: unknown) => controller.error(error) });
      },
      pull() {
        pulled?.();
      },
      cancel() {
        subscription?.unsubscribe();
      },
    },
    new CountQueuingStrategy({ highWaterMark }),
  );
  return new Response(body, { status: options.status ?? 200, headers: { ...SSE_HEADERS, ...options.headers } });
}
