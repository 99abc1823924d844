import {
  asyncScheduler,
  catchError,
  connect,
  defer,
  endWith,
  filter,
  identity,
  ignoreElements,
  map,
  merge,
  of,
  repeat,
  takeUntil,
  tap,
  timer,
  type Observable,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import { assertDuration, assertFunction } from '../internal/validate.js';
import { streamStartOf } from '../streamStart.js';
import { formatServerSentEvent, type ServerSentEventInit } from './formatServerSentEvent.js';

/** Options of `toServerSentEvents`; every field is optional. */
export interface ServerSentEventsOptions<T> {
  /**
   * The event of each value. Default: `data` = the value (strings as they
   * are, anything else as JSON), and no `id`: a reconnecting client could not
   * be given the rest from an id of this connection (the relay can). A value
   * marked as a fresh start (`streamStartOf(value)?.resumed === false`) after
   * data is sent as a `restart` event whatever this says.
   */
  toEvent?: ((value: T, index: number) => ServerSentEventInit) | undefined;
  /** Milliseconds without a frame before a `: ping` comment is sent; `0` turns it off. Default: 15000. */
  heartbeat?: number | undefined;
  /** The event sent after the last value, so a client can tell a finished stream from a cut one; `false` sends none. Default: `{ event: 'done', data: '[DONE]' }`. */
  end?: ServerSentEventInit | false | undefined;
  /**
   * The event sent instead of an error, after which the stream ends (the
   * headers are out: a status can no longer tell it). Default:
   * `{ event: 'error', data: JSON.stringify({ name, message, retryable }) }`.
   */
  toErrorEvent?: ((error: unknown) => ServerSentEventInit) | undefined;
  /** The scheduler of the heartbeat. Default: `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/**
 * Default heartbeat (ms): under the ~60 s after which proxies close idle connections.
 *
 * @example
 * ```ts
 * // Behind a proxy that closes idle connections after 10 s, beat faster than the default:
 * answer$.pipe(toServerSentEvents({ heartbeat: Math.min(DEFAULT_HEARTBEAT, 5_000) }));
 * ```
 */
export const DEFAULT_HEARTBEAT = 15_000;
const HEARTBEAT_FRAME = formatServerSentEvent({ comment: 'ping' });
export const DEFAULT_END: ServerSentEventInit = { event: 'done', data: '[DONE]' };
const NAME = 'toServerSentEvents';

/**
 * Turns values into SSE frames (strings ready to write): one event per value,
 * a `: ping` comment whenever `heartbeat` ms pass without a frame, an end
 * event after the last value, and an error event instead of an error. The
 * result never errors; unsubscribing from it unsubscribes upstream (which
 * aborts a provider request).
 *
 * Restart-safe without a relay: when a `retryWithBackoff` before it sent the
 * provider request again, the new answer's first value carries a fresh-start
 * mark (`markStreamStart(value, { resumed: false })`); after data it goes out
 * as a `restart` event, so a client using `parseRelayedChunks` starts its
 * snapshot over instead of appending a second answer to the first. No `id:`
 * is sent by default: a browser reconnecting to this route gets a new answer
 * (its first event is a fresh start), never a wrong offset.
 *
 * ```text
 * source:  --a--------b--|
 * result:  --A---P----B--(E|)     heartbeat 4: P = ": ping", E = the end event
 * source:  --a--#
 * result:  --A--(X|)              X = the error event
 * source:  --a--b--a'--b'--|      a' marked as a fresh start (the provider request was sent again)
 * result:  --A--B--R---B'--(E|)   R = "event: restart" with a'
 * ```
 *
 * @example
 * ```ts
 * const frames = fromChatCompletion(options).pipe(untilDone(), toServerSentEvents());
 * writeServerSentEvents(response, frames); // Node; or serverSentEventsResponse(frames) for a Web Response
 * ```
 */
export function toServerSentEvents<T>(options: ServerSentEventsOptions<T> = {}): OperatorFunction<T, string> {
  const {
    toEvent = defaultEvent,
    heartbeat = DEFAULT_HEARTBEAT,
    end = DEFAULT_END,
    toErrorEvent = defaultErrorEvent,
    scheduler = asyncScheduler,
  } = options;
  assertFunction(`${NAME}: options.toEvent`, toEvent);
  assertFunction(`${NAME}: options.toErrorEvent`, toErrorEvent);
  assertDuration(`${NAME}: options.heartbeat`, heartbeat, { allowInfinity: true });
  const endFrames = end === false ? [] : [formatServerSentEvent(end)];
  const beats = heartbeat > 0 && heartbeat < Infinity;
  return (source) =>
    source.pipe(
      map((value, index) => {
        const event = toEvent(value, index);
        return formatServerSentEvent(index > 0 && streamStartOf(value)?.resumed === false ? { ...event, event: 'restart' } : event);
      }),
      // No end event, no heartbeat: no step for them (each would be one more hop for every frame).
      endFrames.length > 0 ? endWith(...endFrames) : identity,
      catchError((error: unknown) => of(formatServerSentEvent(toErrorEvent(error)))),
      beats ? connect((frames) => withHeartbeat(frames, heartbeat, scheduler)) : identity,
    );
}

/**
 * `frames` with a `: ping` whenever `heartbeat` ms pass without a frame, until
 * `frames` ends. One timer per stream, re-armed only when it fires (not on
 * every frame): a frame just records when it went out, and a timer that fires
 * early (a frame came meanwhile) waits for the rest of the silence.
 */
function withHeartbeat(frames: Observable<string>, heartbeat: number, scheduler: SchedulerLike): Observable<string> {
  let lastFrameAt = scheduler.now();
  const pings = defer(() => timer(Math.max(0, lastFrameAt + heartbeat - scheduler.now()), scheduler)).pipe(
    repeat(),
    filter(() => scheduler.now() - lastFrameAt >= heartbeat),
    tap(() => (lastFrameAt = scheduler.now())),
    map(() => HEARTBEAT_FRAME),
    takeUntil(frames.pipe(ignoreElements(), endWith(true))),
  );
  return merge(frames.pipe(tap(() => (lastFrameAt = scheduler.now()))), pings);
}

/** `data` = the value (strings as they are, anything else as JSON); no id. */
export function defaultEvent(value: unknown): ServerSentEventInit {
  return { data: typeof value === 'string' ? value : JSON.stringify(value) };
}

/**
 * This library's errors (which never hold a key) go out with name, message and
 * `retryable`; any other error only as a generic failure, since its message
 * may say things about the server that a browser should not see.
 */
export function defaultErrorEvent(error: unknown): ServerSentEventInit {
  const retryable = error instanceof Error ? (error as { retryable?: unknown }).retryable : undefined;
  const body =
    error instanceof Error && typeof retryable === 'boolean'
      ? { name: error.name, message: error.message, retryable }
      : { name: 'Error', message: 'The stream failed.', retryable: false };
  return { event: 'error', data: JSON.stringify(body) };
}
