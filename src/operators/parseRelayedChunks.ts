import { filter, map, pipe, type OperatorFunction } from 'rxjs';
import { ParseError, StreamError } from '../errors.js';
import { stripControls } from '../internal/redact.js';
import { markStreamStart, streamStartOf } from '../streamStart.js';
import { DONE, type ChatCompletionChunk } from '../types.js';

/** An SSE event as `fromServerSentEvents` emits it. */
export interface RelayedEvent {
  data: string;
  event?: string | undefined;
  id?: string | undefined;
}

/**
 * The relay's stream failed upstream (`error` event) or was cancelled (`cancelled`).
 *
 * @example
 * ```ts
 * answer$.subscribe({
 *   error: (error) => error instanceof RelayedError && showError(`The server's answer failed (${error.upstreamName ?? 'unknown'}): ${error.message}`),
 * });
 * ```
 */
export class RelayedError extends StreamError {
  override readonly name = 'RelayedError';
  constructor(
    message: string,
    /** The `name` of the error on the relay's side (`HttpError`, `NetworkError`, ...), when it sent one. */
    readonly upstreamName: string | undefined,
    retryable: boolean,
  ) {
    super(message, retryable);
  }
}

/**
 * Turns the events of a relay (`createRelay` in `rxjs-llm-stream/server`, read
 * with `fromServerSentEvents`) back into chat chunks: plain events are parsed
 * as chunks, `done` becomes `DONE`, a `restart` event (the relay's provider
 * request was sent again) makes the snapshot start over, and `error` or
 * `cancelled` become a `RelayedError`, and a `ping` event (the heartbeat of
 * `toNestMessageEvents`) is skipped. The resume mark of a reconnect (with
 * `Last-Event-ID`) is kept, so `accumulateContent` continues the snapshot.
 *
 * ```text
 * events:  --{c1}--{c2}--(done)--
 * result:  --c1----c2----D-------
 * events:  --{c1}--restart{c1'}--
 * result:  --c1----c1'(fresh)----
 * ```
 *
 * @example
 * ```ts
 * fromServerSentEvents({ url: `/chat/${id}` }).pipe(
 *   parseRelayedChunks(),
 *   untilDone(),
 *   retryWithBackoff(),   // reconnects with Last-Event-ID: the rest, not a new answer
 *   accumulateContent(),
 * );
 * ```
 */
export function parseRelayedChunks(): OperatorFunction<RelayedEvent, ChatCompletionChunk | typeof DONE> {
  return pipe(
    filter((event: RelayedEvent) => event.event !== 'ping'),
    map((event) => {
      switch (event.event) {
        case 'done':
          return DONE;
        case 'error':
        case 'cancelled':
          throw relayedError(event);
        case 'restart':
          return markStreamStart(parseChunk(event.data), { resumed: false });
        default: {
          const chunk = parseChunk(event.data);
          const start = streamStartOf(event);
          return start ? markStreamStart(chunk, start) : chunk;
        }
      }
    }),
  );
}

function parseChunk(data: string): ChatCompletionChunk {
  let chunk: unknown;
  try {
    chunk = JSON.parse(data);
  } catch {
    chunk = undefined;
  }
  if (typeof chunk !== 'object' || chunk === null || Array.isArray(chunk)) {
    throw new ParseError('parseRelayedChunks: a relayed event is not a chunk object.', data.slice(0, 120));
  }
  return chunk as ChatCompletionChunk;
}

/** A relayed string as an error may hold it: terminal escapes and controls removed, on one line, cut at `max` characters. */
function oneLine(text: string, max: number): string {
  return stripControls(text.slice(0, max * 4)).replace(/\s+/g, ' ').trim().slice(0, max);
}

function relayedError(event: RelayedEvent): RelayedError {
  if (event.event === 'cancelled') return new RelayedError('parseRelayedChunks: the relay cancelled the stream.', undefined, false);
  let detail: { name?: unknown; message?: unknown; retryable?: unknown } = {};
  try {
    detail = JSON.parse(event.data) as typeof detail;
  } catch {
    // A bare error event: no detail.
  }
  const name = typeof detail.name === 'string' ? oneLine(detail.name, 60) || undefined : undefined;
  const message = typeof detail.message === 'string' ? oneLine(detail.message, 500) : 'the stream failed';
  return new RelayedError(`parseRelayedChunks: the relay's stream failed (${name ?? 'Error'}: ${message})`, name, detail.retryable === true);
}
