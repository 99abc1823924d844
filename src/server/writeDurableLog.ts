import type { IncomingMessage, ServerResponse } from 'node:http';
import { durableLogResponse, type DurableLogOptions } from './durableLogResponse.js';

/**
 * `durableLogResponse` for Node's `http` (Express, Fastify after
 * `reply.hijack()`, plain `http`): reads the request body, answers on
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
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (typeof value === 'string') headers.set(name, value);
      else if (Array.isArray(value)) headers.set(name, value.join(', '));
    }
    const method = (request.method ?? 'GET').toUpperCase();
    const chunks: Buffer[] = [];
    if (method !== 'GET' && method !== 'HEAD') {
      for await (const chunk of request) chunks.push(chunk as Buffer);
    }
    const url = new URL(request.url ?? '/', `http://${request.headers.host ?? 'localhost'}`);
    const init: RequestInit = { method, headers, signal: abort.signal };
    if (method !== 'GET' && method !== 'HEAD') init.body = Buffer.concat(chunks);
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
    const reader = answer.body.getReader();
    abort.signal.addEventListener('abort', () => void reader.cancel().catch(() => undefined), { once: true });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || response.destroyed) break;
        if (!response.write(value)) {
          await new Promise<void>((resolve) => {
            const settle = () => {
              response.off('drain', settle);
              response.off('close', settle);
              resolve();
            };
            response.on('drain', settle).on('close', settle);
          });
        }
      }
    } catch {
      // The client went away (the reader was cancelled) or the body failed: end below.
    }
  } finally {
    response.off('close', gone);
    if (!response.destroyed && !response.writableEnded) response.end();
  }
}
