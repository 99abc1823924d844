import { type Observable } from 'rxjs';
import { IdleTimeoutError } from '../errors.js';
import { httpRequestOf, type StreamRequest } from './streamRequest.js';
import { decodeUtf8, fetchBytes, idleTimeout, parseServerSentEvents, type EventSourceMessage, type SKIP } from './index.js';

export type { EventSourceMessage };
export { excerpt } from './responseErrors.js';

/** Sees the final 2xx response of a connection (status, headers) before its body is read. */
export interface SeenResponse {
  onResponse: (response: Response) => void;
}

/**
 * The transport of the chat sources, composed from the other parts of `transport/`: one POST
 * per subscription (headers computed then), the idle timeout, UTF-8
 * decoding, SSE parsing. Emits each event of the response body as soon as
 * its bytes arrive, completes when the body ends, and aborts the request on
 * unsubscribe. Errors are the typed errors of `../errors`. With `select`,
 * each event is emitted as what `select` makes of it, in the parser's own
 * step (`SKIP` leaves it out): the hot path of `fromChatCompletion`.
 */
export function serverSentEvents(request: StreamRequest, select?: undefined, seen?: SeenResponse): Observable<EventSourceMessage>;
export function serverSentEvents<R>(request: StreamRequest, select: (message: EventSourceMessage) => R | typeof SKIP): Observable<R>;
export function serverSentEvents<R>(
  request: StreamRequest,
  select?: (message: EventSourceMessage) => R | typeof SKIP,
  seen?: SeenResponse,
): Observable<R | EventSourceMessage> {
  const { source, idleTimeout: timeoutMs, maxEventSize } = request;
  const bytes = fetchBytes(() => httpRequestOf(request), { source, fetch: request.fetch, ...(seen ? { onResponse: seen.onResponse } : {}) });
  const text = bytes.pipe(
    idleTimeout(timeoutMs, { scheduler: request.scheduler, error: () => new IdleTimeoutError(timeoutMs, source) }),
    decodeUtf8(),
  );
  return select === undefined ? text.pipe(parseServerSentEvents({ source, maxEventSize })) : text.pipe(parseServerSentEvents({ source, maxEventSize, select }));
}
