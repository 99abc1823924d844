import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { webHeadersOf, writeWebBody } from '../../src/server/nodeWebBridge';

/**
 * Serves a Web handler (`Request` → `Response`, as Hono, Next.js route
 * handlers, Bun and Deno call it) on Node's `http`, the way those adapters
 * do: the request's headers, method, URL and body (streamed, `duplex:
 * 'half'`) become a `Request` whose signal aborts when the client goes away;
 * the `Response`'s status, headers and body are written back as they come.
 * For the tests that hold `durableLogResponse` (the Web form) to what
 * `writeDurableLog` (the Node form) is held to.
 */
export function nodeListenerOf(handle: (request: Request) => Promise<Response>): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const abort = new AbortController();
    response.once('close', () => abort.abort());
    const method = request.method ?? 'GET';
    const init: RequestInit & { duplex?: 'half' } = { method, headers: webHeadersOf(request), signal: abort.signal };
    if (method !== 'GET' && method !== 'HEAD') {
      init.body = Readable.toWeb(request) as ReadableStream<Uint8Array>;
      init.duplex = 'half';
    }
    const url = new URL(request.url ?? '/', `http://${request.headers.host ?? 'localhost'}`);
    void (async () => {
      try {
        const answer = await handle(new Request(url, init));
        const outgoing: Record<string, string> = {};
        answer.headers.forEach((value, name) => (outgoing[name] = value));
        response.writeHead(answer.status, outgoing);
        response.flushHeaders();
        if (answer.body === null || method === 'HEAD') await answer.body?.cancel();
        else await writeWebBody(answer.body, response, abort.signal);
      } catch {
        if (!response.headersSent) response.writeHead(500);
      } finally {
        if (!response.destroyed && !response.writableEnded) response.end();
      }
    })();
  };
}
