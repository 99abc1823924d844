import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline, Readable, Transform } from 'node:stream';
import { finalize, interval, lastValueFrom, map, Observable, range, take } from 'rxjs';
import { accumulateContent } from '../src/operators/accumulateContent';
import { parseRelayedChunks } from '../src/operators/parseRelayedChunks';
import { retryWithBackoff } from '../src/operators/retryWithBackoff';
import { untilDone } from '../src/operators/untilDone';
import { createRelay } from '../src/server/createRelay';
import { fromChatCompletion } from '../src/sources/fromChatCompletion';
import { fromServerSentEvents } from '../src/sources/fromServerSentEvents';
import { expectedOutput, startMockChatServer, type MockChatServer } from '../src/testing';
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
    expect(await response.text()).toBe('data: {"n":0}\n\ndata: {"n":1}\n\ndata: {"n":2}\n\nevent: done\ndata: [DONE]\n\n');
  });

  it('ends the response when the returned Subscription is unsubscribed (no end event: the client may resume)', async () => {
    const { values, state } = ticking();
    server = await startLoopbackServer((_request, response) => {
      const subscription = writeServerSentEvents(response, values.pipe(toServerSentEvents({ heartbeat: 0 })));
      setTimeout(() => subscription.unsubscribe(), 100);
    });
    const body = await (await fetch(server.url)).text();
    expect(state.finalized).toBe(true);
    expect(body).toMatch(/^(data: \{"n":\d+\}\n\n)+$/);
    expect(body).not.toContain('done');
  });

  it('writes nothing, and subscribes to nothing, for a response that closed before it was called (the client left during an await)', async () => {
    let subscribed = 0;
    const frames = new Observable<string>(() => void subscribed++);
    let returned: { closed: boolean } | undefined;
    server = await startLoopbackServer(async (_request, response) => {
      await new Promise((closed) => response.once('close', closed));
      returned = writeServerSentEvents(response, frames);
    });
    const controller = new AbortController();
    const pending = fetch(server.url, { signal: controller.signal }).catch(() => undefined);
    await waitFor(() => server!.requests.length === 1, 10_000);
    controller.abort();
    await pending;
    await waitFor(() => returned !== undefined, 10_000);
    expect(subscribed).toBe(0);
    expect(returned!.closed).toBe(true);
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
    expect(await response.text()).toBe('data: {"n":0}\n\ndata: {"n":1}\n\nevent: done\ndata: [DONE]\n\n');
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

describe("the README's backend snippet (no relay): restart-safe", () => {
  let mock: MockChatServer | undefined;
  afterEach(async () => {
    await mock?.close();
    mock = undefined;
  });

  /** The README's "Your backend" route, with the mock's base URL (the README's lines are checked below). */
  function readmeRoute(baseURL: string, userQuestion: (request: Request) => Promise<string>) {
    return async function POST(request: Request): Promise<Response> {
      const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: await userQuestion(request) }] } as const;
      const answer$ = fromChatCompletion({ apiKey: process.env.OPENAI_API_KEY, baseURL, body }).pipe(untilDone(), retryWithBackoff({ initialDelay: 10 }));
      return serverSentEventsResponse(answer$.pipe(toServerSentEvents()));
    };
  }

  /** Serves a Web Response handler on Node; the first response is cut after `cutAfter` events when given. */
  function serveWeb(handler: (request: Request) => Promise<Response>, cutAfter?: number): Promise<LoopbackServer> {
    let responses = 0;
    return startLoopbackServer(async (request, response, seen) => {
      const web = await handler(new Request(`http://127.0.0.1${request.url}`, { method: request.method, body: seen.body === '' ? null : seen.body }));
      response.writeHead(web.status, Object.fromEntries(web.headers));
      const cutting = responses++ === 0 && cutAfter !== undefined;
      let events = 0;
      const counter = new Transform({
        transform(piece: Buffer, _encoding, done) {
          events += piece.toString().split('\n\n').length - 1;
          done(null, piece);
          if (cutting && events >= cutAfter) setTimeout(() => response.destroy(), 20);
        },
      });
      pipeline(Readable.fromWeb(web.body! as never), counter, response, () => undefined);
    });
  }

  const client = (url: string) =>
    lastValueFrom(
      fromServerSentEvents({ url, body: { q: 'hi' } }).pipe(parseRelayedChunks(), untilDone(), retryWithBackoff({ initialDelay: 20, jitter: 'none' }), accumulateContent()),
    );

  it('is the snippet the README shows', () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    expect(readme).toContain("const answer$ = fromChatCompletion({ apiKey: process.env.OPENAI_API_KEY, body }).pipe(untilDone(), retryWithBackoff());");
    expect(readme).toContain('return serverSentEventsResponse(answer$.pipe(toServerSentEvents()));');
  });

  it('a provider drop mid-answer: the retried answer comes as a restart event, and the client text is exact', async () => {
    const drop = { tokenSize: 3, fault: { kind: 'drop' as const, afterChunks: 6 } };
    mock = await startMockChatServer({ script: [drop, { tokenSize: 3 }, drop, { tokenSize: 3 }] });
    server = await serveWeb(readmeRoute(`${mock.url}/v1`, async () => 'hi'));
    const raw = await (await fetch(server.url, { method: 'POST', body: '{}' })).text();
    expect(raw.match(/^event: restart$/gm)).toHaveLength(1);
    expect(raw).not.toMatch(/^id:/m);
    const snapshot = await client(server.url);
    expect(snapshot.content).toBe(expectedOutput({ tokenSize: 3 }).content[0]);
    expect(mock.requests).toHaveLength(4);
  });

  it('a browser reconnect mid-answer: the new answer starts the client\'s snapshot over, and the client text is exact', async () => {
    mock = await startMockChatServer({ script: [{ tokenSize: 3, paceMs: 5 }] });
    server = await serveWeb(readmeRoute(`${mock.url}/v1`, async () => 'hi'), 6);
    const snapshot = await client(server.url);
    expect(snapshot.content).toBe(expectedOutput({ tokenSize: 3 }).content[0]);
    expect(mock.requests).toHaveLength(2);
    // No Last-Event-ID went back: the route hands out no id it could not honour.
    expect(server.requests.map((request) => request.headers['last-event-id'])).toEqual([undefined, undefined]);
  });
});

describe("a relay's frames (PullFrames) through both writers", () => {
  it('arrive whole and in order through writeServerSentEvents and serverSentEventsResponse', async () => {
    const relay = createRelay({ heartbeat: 0 });
    const words = Array.from({ length: 300 }, (_, n) => `w${n}`);
    await relay.start('pulled', range(0, words.length).pipe(map((n) => words[n]!)));
    server = await startLoopbackServer((_request, response) => void writeServerSentEvents(response, relay.frames('pulled')));
    const viaNode = await (await fetch(server.url)).text();
    const viaWeb = await serverSentEventsResponse(relay.frames('pulled'), { highWaterMark: 2 }).text();
    for (const body of [viaNode, viaWeb]) {
      expect([...body.matchAll(/^data: (w\d+)$/gm)].map((match) => match[1])).toEqual(words);
      expect(body).toMatch(/event: done\nid: [0-9a-f]+-301\ndata: \[DONE\]\n\n$/);
    }
    await relay.stop();
  });
});
