import { asyncScheduler, catchError, connect, endWith, ignoreElements, interval, map, merge, of, startWith, switchMap, takeUntil, type OperatorFunction } from 'rxjs';
import { assertDuration, assertFunction } from '../internal/validate.js';
import { streamStartOf } from '../streamStart.js';
import type { ServerSentEventInit } from './formatServerSentEvent.js';
import { DEFAULT_END, DEFAULT_HEARTBEAT, defaultErrorEvent, type ServerSentEventsOptions } from './toServerSentEvents.js';

/** NestJS's `MessageEvent`, as an `@Sse()` handler returns it. */
export interface NestMessageEvent {
  data: string | object;
  id?: string;
  type?: string;
  retry?: number;
}

/**
 * Options of `toNestMessageEvents`: those of `toServerSentEvents`, where the
 * heartbeat is a typed `ping` event (NestJS's `MessageEvent` has no comment
 * field: `data`, `id`, `type`, `retry`; so a `: ping` comment cannot be sent).
 */
export type NestMessageEventsOptions<T> = Pick<ServerSentEventsOptions<T>, 'toEvent' | 'end' | 'toErrorEvent' | 'heartbeat' | 'scheduler'>;

/**
 * The heartbeat event: `event: ping` with empty data. Browsers' `onmessage` does not see it; `parseRelayedChunks` skips it.
 *
 * @example
 * ```ts
 * // In a Nest test: everything but the heartbeats.
 * const events = await lastValueFrom(controller.stream(id).pipe(filter((event) => event !== NEST_PING), toArray()));
 * ```
 */
export const NEST_PING: NestMessageEvent = Object.freeze({ type: 'ping', data: '' }) as NestMessageEvent;

/**
 * Values as NestJS `MessageEvent`s for an `@Sse()` handler, with this
 * library's ids: NestJS numbers events 1, 2, ... per connection when they
 * have no `id`; here every event carries its position in the stream. NestJS
 * does not read `Last-Event-ID` either: take it with
 * `@Headers('last-event-id')` (or serve from the relay). A `ping` event goes
 * out after every `heartbeat` ms of silence (a reasoning model may think for
 * a minute; proxies cut idle connections), a fresh-start mark after data
 * becomes a `restart` event, the stream ends with the end event, and an
 * error becomes an error event.
 *
 * ```text
 * source:  --a--b-------c--|
 * result:  --A--B---P---C--(E|)    heartbeat 4: P = { type: 'ping', data: '' }
 * A = { id: '0', data: a }, E = { type: 'done', data: '[DONE]' }
 * ```
 *
 * @example
 * ```ts
 * @Sse('chat')
 * chat(@Query('q') q: string): Observable<NestMessageEvent> {
 *   return fromChatCompletion({ apiKey, body: { model, messages: [{ role: 'user', content: q }] } })
 *     .pipe(untilDone(), toNestMessageEvents());
 * }
 * ```
 */
export function toNestMessageEvents<T>(options: NestMessageEventsOptions<T> = {}): OperatorFunction<T, NestMessageEvent> {
  const { toEvent = positionEvent, end = DEFAULT_END, toErrorEvent = defaultErrorEvent, heartbeat = DEFAULT_HEARTBEAT, scheduler = asyncScheduler } = options;
  assertFunction('toNestMessageEvents: options.toEvent', toEvent);
  assertFunction('toNestMessageEvents: options.toErrorEvent', toErrorEvent);
  assertDuration('toNestMessageEvents: options.heartbeat', heartbeat, { allowInfinity: true });
  const ending = end === false ? [] : [nestEvent(end)];
  const beats = heartbeat > 0 && heartbeat < Infinity;
  return (source) =>
    source.pipe(
      map((value, index) => {
        const event = toEvent(value, index);
        return nestEvent(index > 0 && streamStartOf(value)?.resumed === false ? { ...event, event: 'restart' } : event);
      }),
      endWith(...ending),
      catchError((error: unknown) => of(nestEvent(toErrorEvent(error)))),
      connect((events) =>
        beats
          ? merge(
              events,
              events.pipe(
                startWith(undefined),
                switchMap(() => interval(heartbeat, scheduler)),
                map(() => ({ ...NEST_PING })),
                takeUntil(events.pipe(ignoreElements(), endWith(true))),
              ),
            )
          : events,
      ),
    );
}

function positionEvent(value: unknown, index: number): ServerSentEventInit {
  return { id: String(index), data: typeof value === 'string' ? value : JSON.stringify(value) };
}

function nestEvent({ data = '', event, id, retry }: ServerSentEventInit): NestMessageEvent {
  const message: NestMessageEvent = { data };
  if (id !== undefined) message.id = id;
  if (event !== undefined) message.type = event;
  if (retry !== undefined) message.retry = retry;
  return message;
}
