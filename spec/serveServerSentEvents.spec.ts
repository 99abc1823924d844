import { finalize, interval, map, Observable, range, take } from 'rxjs';
import { startLoopbackServer, waitFor, type LoopbackServer } from './support/loopbackServer';
import { serverSentEventsResponse } from '../src/server/serverSentEventsResponse';
import { toServerSentEvents } from '../src/server/toServerSentEvents';
import { writeServerSentEvents } from '../src/server/writeServerSentEvents';

let server: LoopbackServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A stream that emits `count` values 10 ms apart and records when it was unsubscribed. */
function ticking(count = Infinity) {
  const state = { finalized: false };
  const values = interval(10).pipe(
    take(count),
    map((n) => ({ n })),
    finalize(() => (state.finalized = true)),
  );
  return { values, state };
}

describe('writeServerSentEvents (Node ServerResponse)', () => {
  it('writes the SSE headers at once and every frame in order, then ends', async () => {
    server = await startLoopbackServer((_request, response) => {
      writeServerSentEvents(response, ticking(3).values.pipe(toServerSentEvents()));
    });
    const response = await fetch(`${server.url}/chat`, { method: 'POST', body: '{"q":"hi"}' });
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    // The POST body was read before streaming: the request's own 'close' must not have stopped it.
    expect(await response.text()).toBe('id: 0\ndata: {"n":0}\n\nid: 1\ndata: {"n":1}\n\nid: 2\ndata: {"n":2}\n\nevent: done\ndata: [DONE]\n\n');
  });

  it('unsubscribes upstream when the client goes away', async () => {
    const { values, state } = ticking();
    server = await startLoopbackServer((_request, response) => {
      writeServerSentEvents(response, values.pipe(toServerSentEvents()));
    });
    const controller = new AbortController();
    const response = await fetch(server.url, { signal: controller.signal });
    const reader = response.body!.getReader();
    await reader.read();
    expect(state.finalized).toBe(false);
    controller.abort();
    await waitFor(() => state.finalized, 10_000);
    expect(state.finalized).toBe(true);
  });

  it('stops writing while the socket is full and goes on at drain, losing nothing', async () => {
    const frameSize = 64 * 1024;
    const total = 400;
    let written = 0;
    server = await startLoopbackServer((_request, response) => {
      const write = response.write.bind(response) as (chunk: string) => boolean;
      response.write = ((chunk: string) => {
        written++;
        return write(chunk);
      }) as typeof response.write;
      const frames = range(0, total).pipe(toServerSentEvents({ heartbeat: 0, end: false, toEvent: (n) => ({ id: String(n), data: 'x'.repeat(frameSize) }) }));
      writeServerSentEvents(response, frames);
    });
    const response = await fetch(server.url);
    // The client reads nothing yet: the writes stop once the socket and the client's buffers are full.
    let settled = -1;
    await waitFor(() => {
      const same = written === settled;
      settled = written;
      return same && written > 0;
    }, 30_000);
    expect(written).toBeLessThan(total);
    const text = await response.text();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]));
    expect(ids).toEqual([...Array(total).keys()]);
    expect(written).toBe(total);
  });
});

describe('serverSentEventsResponse (Web Response)', () => {
  it('streams every frame with the SSE headers', async () => {
    const response = serverSentEventsResponse(ticking(2).values.pipe(toServerSentEvents()), { headers: { 'access-control-allow-origin': '*' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(await response.text()).toBe('id: 0\ndata: {"n":0}\n\nid: 1\ndata: {"n":1}\n\nevent: done\ndata: [DONE]\n\n');
  });

  it('hands over frames as the client reads, and unsubscribes when the body is cancelled', async () => {
    const state = { finalized: false };
    const frames = new Observable<string>((subscriber) => {
      for (let n = 0; n < 100; n++) subscriber.next(`data: ${n}\n\n`);
    }).pipe(finalize(() => (state.finalized = true)));
    const response = serverSentEventsResponse(frames, { highWaterMark: 4 });
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('data: 0\n\n');
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: 1\n\n');
    expect(state.finalized).toBe(false);
    await reader.cancel();
    expect(state.finalized).toBe(true);
  });
});
