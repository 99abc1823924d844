import type { IncomingMessage, ServerResponse } from 'node:http';
import { durableLogResponse, type DurableLogOptions } from './durableLogResponse.js';
import { webHeadersOf, writeWebBody } from './nodeWebBridge.js';

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
  const abort = new AbortController();
  const gone = () => abort.abort();
  response.once('close', gone);
  try {
    const headers = webHeadersOf(request);
    const method = (request.method ?? 'GET').toUpperCase();
    const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
    const body = method === 'GET' || method === 'HEAD' ? undefined : await bodyOf(request, maxBodyBytes);
    if (body === 'too large') {
      // The rest of the upload is read and dropped (never kept), and the connection closes after the answer.
      response.writeHead(413, { 'content-type': 'text/plain', connection: 'close' }).end('Request body too large');
      return;
    }
    const url = new URL(request.url ?? '/', `http://${request.headers.host ?? 'localhost'}`);
    const init: RequestInit = { method, headers, signal: abort.signal };
    if (body !== undefined) init.body = new Uint8Array(body.buffer, body.byteOffset, body.length) as Uint8Array<ArrayBuffer>;
    let answer: Response;
    try {
      answer = await durableLogResponse(new Request(url, init), options);
    } catch {
      if (!response.headersSent && !response.destroyed) response.writeHead(500, { 'content-type': 'text/plain' }).end('Internal server error');
      return;
    }
    if (response.destroyed) {
      await answer.body?.cancel().catch(() => undefined);
      return;
    }
    const outgoing: Record<string, string> = {};
    answer.headers.forEach((value, name) => (outgoing[name] = value));
    if (answer.body === null || method === 'HEAD') {
      response.writeHead(answer.status, outgoing);
      await answer.body?.cancel().catch(() => undefined);
      response.end();
      return;
    }
    if (answer.headers.get('content-type') !== 'text/event-stream') {
      // A whole answer (everything but SSE): sent with its Content-Length, in one write.
      const body = Buffer.from(await answer.arrayBuffer());
      response.writeHead(answer.status, { ...outgoing, 'content-length': String(body.length) }).end(body);
      return;
    }
    response.writeHead(answer.status, outgoing);
    response.flushHeaders();
    response.socket?.setNoDelay(true);
    await writeWebBody(answer.body, response, abort.signal);
  } finally {
    response.off('close', gone);
    if (!response.destroyed && !response.writableEnded) response.end();
  }
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
