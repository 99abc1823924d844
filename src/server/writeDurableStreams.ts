import type { IncomingMessage, ServerResponse } from 'node:http';
import { durableStreamsResponse, type DurableStreamsOptions } from './durableStreamsResponse.js';
import { webHeadersOf, writeWebBody } from './nodeWebBridge.js';

/**
 * `durableStreamsResponse` for Node's `http` (Express, Fastify after
 * `reply.hijack()`, plain `http`): answers `request` on `response`, writing
 * the body as the client drains it (waiting for `'drain'` whenever `write()`
 * says the socket's buffer is full), and stops reading the store when the
 * response closes (the client went away). Resolves when the response ends.
 *
 * ```text
 * GET /streams/s1?offset=-1&live=sse  →  (headers) data… control… (end at streamClosed)
 * client gone                         →  the body's reader is cancelled, the store no longer read
 * ```
 *
 * @example
 * ```ts
 * app.get('/streams/:id', (req, res) => void writeDurableStreams(req, res, { store, streamId: req.params.id }));
 * ```
 */
export async function writeDurableStreams(request: IncomingMessage, response: ServerResponse, options: DurableStreamsOptions): Promise<void> {
  const abort = new AbortController();
  const gone = () => abort.abort();
  response.once('close', gone);
  const headers = webHeadersOf(request);
  const url = new URL(request.url ?? '/', 'http://localhost');
  const method = request.method ?? 'GET';
  const answer = await durableStreamsResponse(new Request(url, { method: method === 'HEAD' || method === 'GET' ? method : 'POST', headers, signal: abort.signal }), options);
  if (method !== 'GET' && method !== 'HEAD') {
    // A Web Request cannot carry every method; the answer to anything but GET and HEAD is the same 405.
    request.resume();
  }
  if (response.destroyed) {
    await answer.body?.cancel().catch(() => undefined);
    return;
  }
  const outgoing: Record<string, string> = {};
  answer.headers.forEach((value, name) => (outgoing[name] = value));
  response.writeHead(answer.status, outgoing);
  if (answer.body === null || method === 'HEAD') {
    await answer.body?.cancel().catch(() => undefined);
    response.end();
    return;
  }
  response.flushHeaders();
  response.socket?.setNoDelay(true);
  try {
    await writeWebBody(answer.body, response, abort.signal);
  } finally {
    response.off('close', gone);
    if (!response.destroyed) response.end();
  }
}
