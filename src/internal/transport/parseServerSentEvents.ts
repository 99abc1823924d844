import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { Observable, type OperatorFunction } from 'rxjs';
import { ParseError } from '../../errors.js';
import { lineEndNormalizer } from './lineEndNormalizer.js';

export type { EventSourceMessage };

/** What a `select` projection returns for an event to leave out. */
export const SKIP: unique symbol = Symbol('skip');

/** The default cap on one event's (or line's) characters. */
export const DEFAULT_MAX_EVENT_SIZE = 4 * 1024 * 1024;

export interface ParseServerSentEventsOptions {
  /** Who parses, for messages: `fromChatCompletion`, ... */
  source: string;
  /** The most characters one event (or line) may buffer; past it a `ParseError`. Default 4 Mi. */
  maxEventSize?: number;
  /** Called with the value of each valid `retry:` field (milliseconds), in stream order. */
  onRetry?: (milliseconds: number) => void;
}

/** The options with `select`: each event is emitted as what `select` makes of it. */
export interface SelectServerSentEventsOptions<R> extends ParseServerSentEventsOptions {
  /**
   * Maps each event as it is dispatched, in the same step: a source's own
   * step (payload → chunk) without one more subscriber per event on its hot
   * path. `SKIP` leaves the event out; a throw errors the stream.
   */
  select: (event: EventSourceMessage) => R | typeof SKIP;
}

/**
 * Parses text pieces as Server-Sent Events (WHATWG rules, by
 * `eventsource-parser`, after `lineEndNormalizer`'s one CR rule) and emits
 * each dispatched event as `{ data, event?, id? }`: `event` and `id` are the
 * fields of that event as sent (`id` is not carried over from earlier
 * events; a source that resends `Last-Event-ID` keeps it). Comments are
 * skipped; `retry:` goes to `options.onRetry`. An event left unfinished when
 * the text ends is dropped, as the standard says. An event growing past
 * `maxEventSize` fails with `ParseError`. Nothing is emitted once the
 * subscriber has unsubscribed, even from the rest of the same piece. With
 * `options.select`, each event is emitted as `select(event)` instead, and
 * left out when that is `SKIP`.
 *
 * ```text
 * text:    -"data: a\n\nda"-"ta: b\r"-"\n\r\n"-|
 * events:  -{data:'a'}-------------------{data:'b'}-|
 * ```
 *
 * @example
 * ```ts
 * text$.pipe(parseServerSentEvents({ source: 'mySource', onRetry: (ms) => (retryDelay = ms) }));
 * text$.pipe(parseServerSentEvents({ source: 'mySource', select: (event) => (event.data === '' ? SKIP : JSON.parse(event.data)) }));
 * ```
 */
export function parseServerSentEvents(options: ParseServerSentEventsOptions): OperatorFunction<string, EventSourceMessage>;
export function parseServerSentEvents<R>(options: SelectServerSentEventsOptions<R>): OperatorFunction<string, R>;
export function parseServerSentEvents<R>(options: ParseServerSentEventsOptions & Partial<SelectServerSentEventsOptions<R>>): OperatorFunction<string, R | EventSourceMessage> {
  const { source: who, maxEventSize = DEFAULT_MAX_EVENT_SIZE, onRetry, select } = options;
  return (text) =>
    new Observable<R | EventSourceMessage>((subscriber) => {
      let failure: ParseError | undefined;
      const toLF = lineEndNormalizer();
      const parser = createParser({
        maxBufferSize: maxEventSize,
        onEvent: (event) => {
          if (subscriber.closed) return;
          if (select === undefined) {
            subscriber.next(event);
            return;
          }
          let selected: R | typeof SKIP;
          try {
            selected = select(event);
          } catch (error) {
            subscriber.error(error);
            return;
          }
          if (selected !== SKIP) subscriber.next(selected);
        },
        onRetry,
        onError: (error) => {
          if (error.type === 'max-buffer-size-exceeded') {
            failure ??= new ParseError(
              `${who}: an event grew past maxEventSize (${maxEventSize} characters) without ending; raise maxEventSize if it is legitimate.`,
              '',
            );
          }
        },
      });
      return text.subscribe({
        next: (piece) => {
          parser.feed(toLF(piece));
          if (failure) subscriber.error(failure);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
