import { catchError, endWith, map, of, type OperatorFunction } from 'rxjs';
import { assertFunction } from '../internal/validate.js';
import type { ServerSentEventInit } from './formatServerSentEvent.js';
import { DEFAULT_END, defaultErrorEvent, defaultEvent, type ServerSentEventsOptions } from './toServerSentEvents.js';

/** NestJS's `MessageEvent`, as an `@Sse()` handler returns it. */
export interface NestMessageEvent {
  data: string | object;
  id?: string;
  type?: string;
  retry?: number;
}

/** Options of `toNestMessageEvents`: those of `toServerSentEvents` but the heartbeat and scheduler. */
export type NestMessageEventsOptions<T> = Pick<ServerSentEventsOptions<T>, 'toEvent' | 'end' | 'toErrorEvent'>;

/**
 * Values as NestJS `MessageEvent`s for an `@Sse()` handler, with this
 * library's ids: NestJS numbers events 1, 2, ... per connection when they
 * have no `id`, which means nothing to a client reconnecting with
 * `Last-Event-ID`; here every event carries its own (by default its position
 * in the stream). NestJS does not read `Last-Event-ID` either: take it with
 * `@Headers('last-event-id')` and skip what the client has (or serve from the
 * relay). Ends with the end event; an error becomes an error event.
 *
 * ```text
 * source:  --a--b--|
 * result:  --{id:'0',data:a}--{id:'1',data:b}--({type:'done',data:'[DONE]'}|)
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
  const { toEvent = defaultEvent, end = DEFAULT_END, toErrorEvent = defaultErrorEvent } = options;
  assertFunction('toNestMessageEvents: options.toEvent', toEvent);
  assertFunction('toNestMessageEvents: options.toErrorEvent', toErrorEvent);
  const ending = end === false ? [] : [nestEvent(end)];
  return (source) =>
    source.pipe(
      map((value, index) => nestEvent(toEvent(value, index))),
      endWith(...ending),
      catchError((error: unknown) => of(nestEvent(toErrorEvent(error)))),
    );
}

function nestEvent({ data = '', event, id, retry }: ServerSentEventInit): NestMessageEvent {
  const message: NestMessageEvent = { data };
  if (id !== undefined) message.id = id;
  if (event !== undefined) message.type = event;
  if (retry !== undefined) message.retry = retry;
  return message;
}
