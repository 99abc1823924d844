import { type Observable } from 'rxjs';
import { IdleTimeoutError } from '../errors.js';
import { httpRequestOf, type StreamRequest } from './streamRequest.js';
import { decodeUtf8, fetchBytes, idleTimeout, parseServerSentEvents, type EventSourceMessage } from './transport/index.js';

export type { EventSourceMessage };
export { excerpt } from './transport/responseErrors.js';

/**
 * The transport of the chat sources, composed from `./transport`: one POST
 * per subscription (headers computed then), the idle timeout, UTF-8
 * decoding, SSE parsing. Emits each event of the response body as soon as
 * its bytes arrive, completes when the body ends, and aborts the request on
 * unsubscribe. Errors are the typed errors of `../errors`.
 */
export function serverSentEvents(request: StreamRequest): Observable<EventSourceMessage> {
  const { source, idleTimeout: timeoutMs } = request;
  return fetchBytes(() => httpRequestOf(request), { source, fetch: request.fetch }).pipe(
    idleTimeout(timeoutMs, { scheduler: request.scheduler, error: () => new IdleTimeoutError(timeoutMs, source) }),
    decodeUtf8(),
    parseServerSentEvents({ source, maxEventSize: request.maxEventSize }),
  );
}
