import { DurableStreamTestServer } from '@durable-streams/server';
import { firstValueFrom, lastValueFrom, toArray, type Observable } from 'rxjs';
import { HttpError } from '../src/errors';
import { accumulateContent } from '../src/operators/accumulateContent';
import { parseRelayedChunks, type RelayedEvent } from '../src/operators/parseRelayedChunks';
import { retryWithBackoff } from '../src/operators/retryWithBackoff';
import { untilDone } from '../src/operators/untilDone';
import { fromDurableStream, type DurableStreamLive } from '../src/sources/fromDurableStream';
import { streamStartOf } from '../src/streamStart';
import { startCuttingProxy, type Cut, type CuttingProxy } from './support/cuttingProxy';
import { checkResumes, lastResponseBody, queryOf } from './support/durableStreamsWire';
import { waitFor } from './support/loopbackServer';

jest.setTimeout(60_000);

/** The answer the producer writes, one word per chunk. */
const WORDS = Array.from({ length: 40 }, (_, i) => `w${i}ó `);
const TEXT = WORDS.join('');
const chunkEvent = (text: string): RelayedEvent => ({ data: JSON.stringify({ id: 'c', choices: [{ index: 0, delta: { content: text } }] }) });

let server: DurableStreamTestServer;
let port: number;
let streamCount = 0;

beforeAll(async () => {
  server = new DurableStreamTestServer({ port: 0, host: '127.0.0.1', compression: false, longPollTimeout: 2_000 });
  await server.start();
  port = Number(new URL(server.url).port);
});
afterAll(async () => {
  await server.stop();
});

/** A new JSON stream on the reference server; returns its path. */
async function createStream(contentType = 'application/json'): Promise<string> {
  const path = `/v1/stream/chat-${++streamCount}`;
  const response = await fetch(`${server.url}${path}`, { method: 'PUT', headers: { 'content-type': contentType } });
  expect(response.status).toBe(201);
  return path;
}

async function append(path: string, body: string, { close = false, contentType = 'application/json' } = {}): Promise<void> {
  const headers: Record<string, string> = { 'content-type': contentType };
  if (close) headers['Stream-Closed'] = 'true';
  const response = await fetch(`${server.url}${path}`, { method: 'POST', headers, body });
  expect([200, 204]).toContain(response.status);
}

/** Writes the words (`first` of them at once, the rest one by one), then `done`, and closes the stream. */
async function produce(path: string, from: number, pause: () => Promise<void>): Promise<void> {
  for (let i = from; i < WORDS.length; i++) {
    await append(path, JSON.stringify([chunkEvent(WORDS[i]!)]));
    await pause();
  }
  await append(path, JSON.stringify([{ event: 'done', data: '[DONE]' }]), { close: true });
}

const pause = (ms: number) => () => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * `pause(ms)` after each word; with `live: true`, after the words at index
 * 9, 19, 29 and 39 it also waits, at most 5 s, until the client is in an SSE
 * read (its latest connection's latest request, not cut). The words that
 * follow then reach an SSE read whatever the machine's speed: on a loaded
 * machine the producer could otherwise finish while the client still
 * catches up, and no SSE read would be cut mid-tail.
 */
function pacedForSse(live: DurableStreamLive, proxy: CuttingProxy, ms: number, from: number): () => Promise<void> {
  const inSseRead = () => {
    const latest = proxy.connections.at(-1);
    const request = latest?.requests.at(-1);
    return !!request && !latest!.cut && !latest!.closed && queryOf(request).get('live') === 'sse';
  };
  let word = from;
  return async () => {
    await pause(ms)();
    if (live === true && word++ % 10 === 9) await waitFor(inSseRead, 5_000).catch(() => undefined);
  };
}

describe('fromDurableStream against the reference server (@durable-streams/server)', () => {
  let proxy: CuttingProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  /** Cuts an SSE answer right after its `n`-th data event, before the control event that follows it. */
const afterDataEvent = (n: number): Cut => ({ text: '"}]\n\n', occurrence: n });

  it.each<[DurableStreamLive, readonly Cut[]]>([
    ['sse', [700, 1500, 2300, 1400, afterDataEvent(2), afterDataEvent(1), afterDataEvent(3), afterDataEvent(2)]],
    ['long-poll', [700, 1100, 1500, 900]],
    [true, [650, afterDataEvent(2), afterDataEvent(2)]],
  ])('live %p: exact text through cut connections, each resume at the offset the wire had delivered', async (live, cuts) => {
    const path = await createStream();
    for (let i = 0; i < 5; i++) await append(path, JSON.stringify([chunkEvent(WORDS[i]!)]));
    proxy = await startCuttingProxy({ host: '127.0.0.1', port }, cuts);
    const retries: unknown[] = [];
    const snapshots = fromDurableStream<RelayedEvent>({ url: `${proxy.url}${path}`, live }).pipe(
      parseRelayedChunks(),
      untilDone(),
      retryWithBackoff({ initialDelay: 5, jitter: 'none', maxRetries: 20, onRetry: ({ error }) => retries.push(error) }),
      accumulateContent(),
      toArray(),
    );
    const [all] = await Promise.all([lastValueFrom(snapshots), produce(path, 5, pacedForSse(live, proxy, 15, 5))]);
    expect(all.at(-1)!.content).toBe(TEXT);
    // Text never went back: every snapshot extends the one before.
    for (let i = 1; i < all.length; i++) expect(all[i]!.content.startsWith(all[i - 1]!.content)).toBe(true);
    const cutCount = proxy.connections.filter((connection) => connection.cut).length;
    expect(cutCount).toBeGreaterThanOrEqual(2);
    expect(retries).toHaveLength(cutCount);
    expect(checkResumes(proxy)).toBe(cutCount);
    // The SSE runs were cut at least once mid-tail, after whole control events had passed.
    const sseCuts = proxy.connections.filter(
      (connection) => connection.cut && queryOf(connection.requests.at(-1)!).get('live') === 'sse' && /event: control/.test(lastResponseBody(connection)),
    );
    expect(sseCuts.length > 0).toBe(live !== 'long-poll');
  });

  it('two parallel subscriptions each read the whole stream; a later one starts again at the start', async () => {
    const path = await createStream();
    await produce(path, 0, async () => undefined);
    const words = fromDurableStream<RelayedEvent>({ url: `${server.url}${path}` }).pipe(parseRelayedChunks(), untilDone(), accumulateContent());
    const [a, b] = await Promise.all([lastValueFrom(words), lastValueFrom(words)]);
    expect(a.content).toBe(TEXT);
    expect(b.content).toBe(TEXT);
    expect((await lastValueFrom(words)).content).toBe(TEXT);
  });

  it('marks a retry resumed (same stream token), parallel subscriptions fresh (own tokens), a kept offset resumed', async () => {
    const path = await createStream();
    await produce(path, 0, async () => undefined);
    proxy = await startCuttingProxy({ host: '127.0.0.1', port }, [600]);
    const source = fromDurableStream<RelayedEvent>({ url: `${proxy.url}${path}`, live: false });
    const values = await lastValueFrom(source.pipe(retryWithBackoff({ initialDelay: 1, jitter: 'none', maxRetries: 3 }), toArray()));
    expect(values).toHaveLength(WORDS.length + 1);
    // The cut came before the first answer was whole: nothing of it was delivered, and the retry read it
    // again from the same offset, marked as the continuation of the same stream.
    expect(proxy.connections[0]!.cut).toBe(true);
    expect(queryOf(proxy.requests[1]!).get('offset')).toBe('-1');
    expect(values.map(streamStartOf).filter(Boolean)).toEqual([{ resumed: true, stream: expect.any(Object) }]);
    expect(streamStartOf(values[0])).toBeDefined();

    // Two subscriptions of one source, no error between: each fresh, each its own stream token.
    const [a, b] = await Promise.all([firstValueFrom(source), firstValueFrom(source)]);
    expect(streamStartOf(a)).toEqual({ resumed: false, stream: expect.any(Object) });
    expect(streamStartOf(b)).toEqual({ resumed: false, stream: expect.any(Object) });
    expect(streamStartOf(a)!.stream).not.toBe(streamStartOf(b)!.stream);

    // An offset kept from an earlier read: only what follows it, its first value marked resumed.
    const kept = await createStream();
    await append(kept, JSON.stringify([chunkEvent('a'), chunkEvent('b')]));
    const offset = (await fetch(`${server.url}${kept}?offset=-1`)).headers.get('stream-next-offset')!;
    await append(kept, JSON.stringify([chunkEvent('c')]), { close: true });
    const after = await lastValueFrom(fromDurableStream<RelayedEvent>({ url: `${server.url}${kept}`, offset, live: false }).pipe(toArray()));
    expect(after).toEqual([chunkEvent('c')]);
    expect(streamStartOf(after[0])).toEqual({ resumed: true, stream: expect.any(Object) });
  });

  it('reads a text stream as text pieces, and a binary stream over SSE (base64) as bytes, both exact', async () => {
    const textPath = await createStream('text/plain');
    const bytesPath = await createStream('application/octet-stream');
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);
    const text$ = lastValueFrom(fromDurableStream<string>({ url: `${server.url}${textPath}`, live: 'sse' }).pipe(toArray()));
    const bytes$ = lastValueFrom(fromDurableStream<Uint8Array>({ url: `${server.url}${bytesPath}`, live: 'sse' }).pipe(toArray()));
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const piece of ['héllo ', 'wörld ', '🙂']) await append(textPath, piece, { contentType: 'text/plain' });
    await append(textPath, '', { close: true, contentType: 'text/plain' });
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${server.url}${bytesPath}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes.subarray(i * 100, (i + 1) * 100) });
      expect(response.status).toBe(204);
    }
    await append(bytesPath, '', { close: true, contentType: 'application/octet-stream' });
    expect((await text$).join('')).toBe('héllo wörld 🙂');
    expect(Buffer.concat((await bytes$).map((part) => Buffer.from(part)))).toEqual(Buffer.from(bytes));
  });

  it('errors with a non-retryable HttpError 404 for a stream that does not exist, and a typed error for bad options before any request', async () => {
    const error = await firstValueFrom(fromDurableStream({ url: `${server.url}/v1/stream/none-such` })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 404, retryable: false });
    expect(() => fromDurableStream({ url: 'ftp://x/y' })).toThrow(TypeError);
    expect(() => fromDurableStream({ url: `${server.url}/s`, live: 'websocket' as never })).toThrow(TypeError);
    expect(() => fromDurableStream({ url: `${server.url}/s`, offset: 'a\nb' })).toThrow(TypeError);
    expect(() => fromDurableStream({ url: `${server.url}/s`, idleTimeout: -1 })).toThrow(RangeError);
  });

  it('unsubscribing aborts the live request (the server sees the connection close)', async () => {
    const path = await createStream();
    proxy = await startCuttingProxy({ host: '127.0.0.1', port }, []);
    const seen: unknown[] = [];
    const subscription = fromDurableStream({ url: `${proxy.url}${path}`, live: 'sse' }).subscribe({ next: (v) => seen.push(v) });
    await waitFor(() => proxy!.requests.some((line) => queryOf(line).get('live') === 'sse'), 10_000);
    subscription.unsubscribe();
    await waitFor(() => proxy!.connections.every((connection) => connection.closed), 10_000);
    expect(seen).toEqual([]);
  });
});

export type { Observable };
