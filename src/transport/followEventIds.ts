import { map, type OperatorFunction } from 'rxjs';
import { markStreamStart } from '../streamStart.js';
import type { EventSourceMessage } from './index.js';

/** One event of an SSE stream as `fromServerSentEvents` emits it. */
export interface ServerSentEvent {
  /** The event's `data:` lines joined with LF, as sent. */
  data: string;
  /** The `event:` field; `undefined` when the event has none (the browser would call it `message`). */
  event: string | undefined;
  /** This event's own `id:` field; `undefined` when it has none (the source still remembers the last one). */
  id: string | undefined;
}

/**
 * What one retry chain of a `fromServerSentEvents` source remembers from one
 * subscription to the next (the WHATWG "last event ID"; the "reconnection
 * time" is the chain's own `reconnectDelay`, see internal/retryChain).
 */
export interface EventStreamMemory {
  /** Sent as `Last-Event-ID` by the next subscription unless `''`. */
  lastEventId: string;
  /**
   * Identifies the response in the start marks: a fresh subscription (no
   * `Last-Event-ID`) sets a new object, the subscriptions that resume it
   * carry the same one, so a fold placed before `retryWithBackoff` finds where it was.
   */
  stream: object;
}

/**
 * The WHATWG bookkeeping of one subscription: every event's `id:` becomes the
 * last event id (an empty one resets it, one holding NULL or another control
 * character that no header value may carry is ignored, an event without
 * `id:` leaves it), and the first event is marked `{ resumed: true, stream }`
 * when the subscription sent a `Last-Event-ID`, else
 * `{ resumed: false, stream }` (`memory.stream`).
 *
 * ```text
 * events:  -{a, id:1}-{b}-{c, id:''}-#
 * result:  -a(mark)---b---c----------#
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
        if (id !== undefined && canTravel(id)) memory.lastEventId = id;
        const event: ServerSentEvent = { data: message.data, event: message.event, id: message.id };
        if (index > 0) return event;
        return markStreamStart(event, { resumed, stream: memory.stream });
      }),
    );
}

/**
 * Control characters (tab aside) that no header value may carry: an id
 * holding one (NULL, CR, LF, ESC, DEL, ...) is ignored, as WHATWG ignores
 * one holding NULL, rather than making every reconnect fail before it is sent.
 */
const NOT_IN_A_HEADER = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** Whether an `id:` can be sent back as `Last-Event-ID`. */
export function canTravel(id: string): boolean {
  return !NOT_IN_A_HEADER.test(id);
}
