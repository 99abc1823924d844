// Between Node's http objects and the Web Request/Response the handlers answer with: shared by the Node adapters.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The request's headers as Web `Headers` (repeated ones joined with `, `). */
export function webHeadersOf(request: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === 'string') headers.set(name, value);
    else if (Array.isArray(value)) headers.set(name, value.join(', '));
  }
  return headers;
}

/**
 * Writes `body` on `response` as the client drains it (waiting for `'drain'`
 * whenever `write()` says the socket's buffer is full), until the body ends,
 * the response is destroyed, or `signal` aborts (the body's reader is then
 * cancelled). A failing body or a client gone ends the loop quietly; the
 * caller ends the response.
 */
export async function writeWebBody(body: ReadableStream<Uint8Array>, response: ServerResponse, signal: AbortSignal): Promise<void> {
  const reader = body.getReader();
  signal.addEventListener('abort', () => void reader.cancel().catch(() => undefined), { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || response.destroyed) return;
      if (!response.write(value)) await drainedOrClosed(response);
    }
  } catch {
    // The client went away (the reader was cancelled) or the body failed: the caller ends the response.
  }
}

/** Resolves when `response` drains or closes. */
export function drainedOrClosed(response: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const settle = () => {
      response.off('drain', settle);
      response.off('close', settle);
      resolve();
    };
    response.on('drain', settle).on('close', settle);
  });
}
