import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fetch = (url: string, init?: RequestInit) => Promise<Response>;

/** A `fetch` answering every call with a fresh `Response` over `pieces`, one read each. */
export function inMemoryFetch(pieces: Uint8Array[]): Fetch {
  return async () => {
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i < pieces.length) controller.enqueue(pieces[i++]!);
        else controller.close();
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  };
}

/**
 * A loopback server on 127.0.0.1 that answers each POST with `pieces()`'s
 * bytes; with `firstGapMs`, the rest waits that long after the first piece.
 */
export async function startBenchServer(pieces: () => Uint8Array[], firstGapMs = 0): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', async () => {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const [i, piece] of pieces().entries()) {
        if (i === 1 && firstGapMs > 0) await new Promise((resolve) => setTimeout(resolve, firstGapMs));
        if (!response.write(piece)) await new Promise((resolve) => response.once('drain', resolve));
      }
      response.end();
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
