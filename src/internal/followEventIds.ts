import { catchError, map, throwError, type OperatorFunction } from 'rxjs';
import { markStreamStart } from '../streamStart.js';
import type { EventSourceMessage } from './transport/index.js';

/** One event of an SSE stream as `fromServerSentEvents` emits it. */
export interface ServerSentEvent {
  /** The event's `data:` lines joined with LF, as sent. */
  data: string;
  /** The `event:` field; `undefined` when the event has none (the browser would call it `message`). */
  event: string | undefined;
  /** This event's own `id:` field; `undefined` when it has none (the source still remembers the last one). */
  id: string | undefined;
}

/** What one `fromServerSentEvents` source remembers across its subscriptions (the WHATWG "last event ID" and "reconnection time"). */
export interface EventStreamMemory {
  /** Sent as `Last-Event-ID` by the next subscription unless `''`. */
  lastEventId: string;
  /** The last `retry:` value (ms): the least wait before the next retry. */
  reconnectDelay: number | undefined;
  /**
   * Identifies the response in the start marks: a fresh subscription (no
   * `Last-Event-ID`) sets a new object, the subscriptions that resume it
   * carry the same one, so a fold placed before `retryWithBackoff` finds where it was.
   */
  stream: object;
}

/**
 * The WHATWG bookkeeping of one subscription: every event's `id:` becomes the
 * last event id (an empty one resets it, one containing NULL is ignored, an
 * event without `id:` leaves it), the first event is marked
 * `{ resumed: true, stream }` when the subscription sent a `Last-Event-ID`,
 * else `{ resumed: false, stream }` (`memory.stream`), and an error carries the last `retry:` value as
 * `retryAfterMs` (the larger one, when it already has one).
 *
 * ```text
 * events:  -{a, id:1}-{b}-{c, id:''}-#
 * result:  -a(mark)---b---c----------#(retryAfterMs = reconnectDelay)
 * memory:   lastEventId '1'      ''
 * ```
 *
 * @example
 * ```ts
 * messages$.pipe(followEventIds(memory, memory.lastEventId !== ''));
 * ```
 */
export function followEventIds(memory: EventStreamMemory, resumed: boolean): OperatorFunction<EventSourceMessage, ServerSentEvent> {
  return (source) =>
    source.pipe(
      map((message, index) => {
        const { id } = message;
        if (id !== undefined && !id.includes('\0')) memory.lastEventId = id;
        const event: ServerSentEvent = { data: message.data, event: message.event, id: message.id };
        if (index > 0) return event;
        return markStreamStart(event, { resumed, stream: memory.stream });
      }),
      catchError((error: unknown) => throwError(() => withReconnectDelay(error, memory.reconnectDelay))),
    );
}

/** Sets `retryAfterMs` on an error object to at least `delay`. */
function withReconnectDelay(error: unknown, delay: number | undefined): unknown {
  if (delay === undefined || typeof error !== 'object' || error === null) return error;
  const own = (error as { retryAfterMs?: unknown }).retryAfterMs;
  if (typeof own === 'number' && own >= delay) return error;
  Object.defineProperty(error, 'retryAfterMs', { value: delay, enumerable: true, configurable: true, writable: true });
  return error;
}
