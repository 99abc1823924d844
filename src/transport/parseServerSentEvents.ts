import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { Observable, type OperatorFunction } from 'rxjs';
import { ParseError } from '../errors.js';
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
  /**
   * Called with the `id:` of each block that has no `data:` (which dispatches
   * no event, yet sets the last event id under the WHATWG rules), in stream
   * order with the events around it.
   */
  onIdWithoutData?: (id: string) => void;
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
  const { source: who, maxEventSize = DEFAULT_MAX_EVENT_SIZE, onRetry, select, onIdWithoutData } = options;
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
      const blocks = onIdWithoutData && idOnlyBlocks(maxEventSize);
      return text.subscribe({
        next: (piece) => {
          const lines = toLF(piece);
          if (!blocks) parser.feed(lines);
          else {
            // Fed up to the end of each id-only block, then its id reported: stream order kept.
            let from = 0;
            for (const { end, id } of blocks(lines)) {
              parser.feed(lines.slice(from, end));
              from = end;
              if (failure || subscriber.closed) break;
              onIdWithoutData(id);
            }
            if (!failure && !subscriber.closed) parser.feed(lines.slice(from));
          }
          if (failure) subscriber.error(failure);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}

/**
 * A scanner of LF-only text pieces that finds the blocks with an `id:` and no
 * `data:` line: for each piece, where each such block ends (just after its
 * blank line) and its id (the last one, NULL-holding ones left out). Keeps at
 * most one line across pieces, cut at `maxLine` characters.
 */
function idOnlyBlocks(maxLine: number): (piece: string) => Array<{ end: number; id: string }> {
  let carry = '';
  let first = true;
  let hasData = false;
  let id: string | undefined;
  return (piece) => {
    const found: Array<{ end: number; id: string }> = [];
    let text = piece;
    let offset = 0;
    if (first && text !== '') {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) {
        text = text.slice(1);
        offset = 1;
      }
    }
    let start = 0;
    for (let lf = text.indexOf('\n'); lf !== -1; lf = text.indexOf('\n', start)) {
      const line = carry + text.slice(start, lf);
      carry = '';
      start = lf + 1;
      if (line === '') {
        if (id !== undefined && !hasData) found.push({ end: offset + start, id });
        hasData = false;
        id = undefined;
      } else if (line === 'data' || line.startsWith('data:')) hasData = true;
      else if (line === 'id' || line.startsWith('id:')) {
        const value = line.slice(line.charCodeAt(3) === 32 ? 4 : 3);
        if (!value.includes('\0')) id = value;
      }
    }
    carry = (carry + text.slice(start)).slice(0, maxLine);
    return found;
  };
}
