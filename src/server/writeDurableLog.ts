import type { IncomingMessage, ServerResponse } from 'node:http';
import { durableLogAnswer, isEventBody, type DurableLogAnswer, type DurableLogEventBody, type DurableLogOptions, type DurableLogRequest } from './durableLogResponse.js';
import { drainedOrClosed } from './nodeWebBridge.js';

/**
 * `durableLogResponse` for Node's `http` (Express, Fastify after
 * `reply.hijack()`, plain `http`): reads the request body (up to
 * `maxBodyBytes`; beyond, `413` and the connection closes), answers on
 * `response`, writes the body as the client drains it, and stops waiting on
 * the store when the response closes (the client went away). Resolves when
 * the response ends.
 *
 * ```text
 * PUT/POST/DELETE/HEAD/GET /v1/stream/s  →  durableLogResponse(...)  →  status, headers, body
 * client gone                            →  the SSE body is cancelled, the store no longer waited on
 * ```
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * const store = memoryDurableLogStore();
 * createServer((req, res) => void writeDurableLog(req, res, { store })).listen(4437, '127.0.0.1');
 * ```
 */
export async function writeDurableLog(request: IncomingMessage, response: ServerResponse, options: DurableLogOptions): Promise<void> {
  // Made when the handler first asks for it (a long-poll or SSE read): an append needs none.
  let abort: AbortController | undefined;
  let gone = false;
  const onClose = () => {
    gone = true;
    abort?.abort();
  };
  response.once('close', onClose);
  try {
    const method = (request.method ?? 'GET').toUpperCase();
    const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
    const body = method === 'GET' || method === 'HEAD' ? undefined : await bodyOf(request, maxBodyBytes);
    if (body === 'too large') {
      // The rest of the upload is read and dropped (never kept), and the connection closes after the answer.
      response.writeHead(413, { 'content-type': 'text/plain', connection: 'close' }).end('Request body too large');
      return;
    }
    const incoming: DurableLogRequest = {
      method,
      url: new URL(request.url ?? '/', `http://${request.headers.host ?? 'localhost'}`),
      header: (name) => headerOf(request, name),
      bytes: () => Promise.resolve(body === undefined ? new Uint8Array(0) : new Uint8Array(body.buffer, body.byteOffset, body.length)),
      get signal() {
        if (!abort) {
          abort = new AbortController();
          if (gone) abort.abort();
        }
        return abort.signal;
      },
    };
    let answer: DurableLogAnswer;
    try {
      answer = await durableLogAnswer(incoming, options);
    } catch {
      if (!response.headersSent && !response.destroyed) response.writeHead(500, { 'content-type': 'text/plain' }).end('Internal server error');
      return;
    }
    const { status, headers, body: out } = answer;
    if (response.destroyed) {
      if (isEventBody(out)) out.cancel();
      return;
    }
    if (out === null || method === 'HEAD') {
      response.writeHead(status, headers);
      if (isEventBody(out)) out.cancel();
      response.end();
      return;
    }
    if (!isEventBody(out)) {
      // A whole answer (everything but SSE): sent with its Content-Length, in one write.
      const bytes = typeof out === 'string' ? Buffer.from(out) : Buffer.from(out.buffer, out.byteOffset, out.length);
      const typed = typeof out === 'string' && headers['content-type'] === undefined ? { 'content-type': 'text/plain;charset=UTF-8' } : {};
      response.writeHead(status, { ...headers, ...typed, 'content-length': String(bytes.length) }).end(bytes);
      return;
    }
    response.writeHead(status, headers);
    response.flushHeaders();
    response.socket?.setNoDelay(true);
    await writeEventBody(out, response);
  } finally {
    response.off('close', onClose);
    if (!response.destroyed && !response.writableEnded) response.end();
  }
}

/**
 * Writes an SSE body's pieces on `response` as the client drains it, until
 * the body ends or the response closes; the body is cancelled either way.
 * A close while the body waits on the store reaches it through the request's
 * signal (`onClose` above), which the SSE handler listens to.
 */
async function writeEventBody(body: DurableLogEventBody, response: ServerResponse): Promise<void> {
  try {
    for (;;) {
      const text = await body.next();
      if (text === undefined || response.destroyed) return;
      if (!response.write(text)) await drainedOrClosed(response);
    }
  } catch {
    // A failing store ends the response (the caller ends it); the client reconnects at its offset.
  } finally {
    // Ended, failed or the client gone: nothing waits on the store for this body any more.
    body.cancel();
  }
}

/** A request header as Web `Headers.get` gives it: repeated ones joined with `, `, `null` when absent. */
function headerOf(request: IncomingMessage, name: string): string | null {
  const value = request.headers[name];
  return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
}

/** The request's body, or `'too large'` as soon as it passes `max` bytes (what follows is read and dropped). */
function bodyOf(request: IncomingMessage, max: number): Promise<Buffer | 'too large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      if (size > max) return;
      size += chunk.length;
      if (size > max) {
        chunks.length = 0;
        resolve('too large');
      } else {
        chunks.push(chunk);
      }
    });
    request.once('end', () => resolve(Buffer.concat(chunks)));
    request.once('error', reject);
  });
}
