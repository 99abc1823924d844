import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** What the server saw of one request. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Resolves when the client closes the connection (or the response ends). */
  closed: Promise<number>;
  receivedAt: number;
}

export interface LoopbackServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

/**
 * A plain HTTP server on 127.0.0.1 for source tests: `handle` writes each
 * response by hand. Every socket is destroyed on `close()`.
 */
export async function startLoopbackServer(
  handle: (request: IncomingMessage, response: ServerResponse, seen: SeenRequest) => void | Promise<void>,
): Promise<LoopbackServer> {
  const requests: SeenRequest[] = [];
  const served = await serveOnLoopback((request, response) => {
    const chunks: Buffer[] = [];
    const closed = new Promise<number>((resolve) => response.on('close', () => resolve(performance.now())));
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const seen: SeenRequest = {
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        closed,
        receivedAt: performance.now(),
      };
      requests.push(seen);
      response.socket?.setNoDelay(true);
      void handle(request, response, seen);
    });
  });
  return { ...served, requests };
}

/**
 * A Node HTTP server on a free 127.0.0.1 port running `listener` as it is
 * (the listener reads request bodies itself: a server under test); `close()`
 * destroys every open socket first, so long-polls and SSE bodies end at once.
 */
export async function serveOnLoopback(listener: RequestListener): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer(listener);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Writes `parts` one at a time, waiting `gapMs` between them so each arrives as its own read. */
export async function writeApart(response: ServerResponse, parts: Array<string | Buffer>, gapMs = 2): Promise<void> {
  for (const part of parts) {
    if (response.destroyed) return;
    response.write(part);
    await sleep(gapMs);
  }
}

export function sseHeaders(response: ServerResponse, status = 200, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
  response.flushHeaders();
}

/** A loopback server that answers every request with the same status, headers and body. */
export function serveFixed(body: string, status = 200, headers: Record<string, string> = { 'content-type': 'text/event-stream' }): Promise<LoopbackServer> {
  return startLoopbackServer((_request, response) => {
    response.writeHead(status, headers);
    response.end(body);
  });
}

/** Resolves once `condition()` holds (or resolves true), polling every 10 ms; rejects after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}
