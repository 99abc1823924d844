/**
 * fromDurableStream against servers whose next offset goes back, or whose
 * data does not move it (a real HTTP server on 127.0.0.1 that speaks the
 * protocol and lies once, or always).
 *
 * The stream holds six JSON messages `{ n }`; the offset after message n is
 * `a_000n` (fixed width, so offsets sort as positions do), `-1` before the
 * first. Catch-up answers hold at most two messages; four are written at the
 * start, and each live read writes the next one (an SSE answer writes all the
 * rest, one `data` + `control` pair each), the sixth closes the stream.
 */
import type { ServerResponse } from 'node:http';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { retryWithBackoff, type RetryEvent } from '../src/operators/retryWithBackoff';
import { compareOffsets } from '../src/sources/durableOffsets';
import { fromDurableStream, type DurableStreamLive } from '../src/sources/fromDurableStream';
import { startLoopbackServer, writeApart, type LoopbackServer } from './support/loopbackServer';

jest.setTimeout(60_000);

const LAST = 6;
const offsetOf = (position: number) => (position === 0 ? '-1' : `a_${String(position).padStart(4, '0')}`);
const positionOf = (offset: string) => (offset === '-1' ? 0 : Number(offset.slice(2)));
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** One read as the server saw it: its mode (`null`: catch-up) and the position it asked from. */
interface Read {
  live: string | null;
  at: number;
}

/** One answer, or one `data` + `control` pair of an SSE answer: message numbers, and the position of its next offset. */
interface Piece {
  data: number[];
  next: number;
  upToDate?: boolean;
  closed?: boolean;
}

/** A lie: what the server sends instead of the honest pieces of `read` (the `n`-th read, from 0). */
type Script = (read: Read, honest: Piece[], n: number) => Piece[];

/** Data the client already has, with the offset before it: older than the one the read asked for. */
const stale = (at: number): Piece => ({ data: range(Math.max(1, at - 1), at), next: Math.max(0, at - 1), upToDate: true });

/** A Durable Streams server on 127.0.0.1 that tells the truth, except where `script` says otherwise. */
async function startLyingServer(script: Script): Promise<LoopbackServer & { reads: Read[] }> {
  let written = 4;
  const reads: Read[] = [];
  const honest = ({ live, at }: Read): Piece[] => {
    if (live === 'sse') {
      written = LAST;
      return range(at + 1, LAST).map((n) => ({ data: [n], next: n, upToDate: true, closed: n === LAST }));
    }
    if (live === 'long-poll' && at >= written) written = Math.min(LAST, written + 1);
    const to = live === null ? Math.min(written, at + 2) : written;
    return [{ data: range(at + 1, to), next: to, upToDate: to === written, closed: to === LAST && written === LAST }];
  };
  const server = await startLoopbackServer(async (request, response) => {
    const query = new URL(request.url ?? '/', 'http://x').searchParams;
    const offset = query.get('offset') ?? '-1';
    const read: Read = { live: query.get('live'), at: offset === 'now' ? written : positionOf(offset) };
    reads.push(read);
    // Bounded: a client that keeps taking the lies is told, at last, that the stream closed.
    const pieces = reads.length > 60 ? [{ data: [], next: LAST, upToDate: true, closed: true }] : script(read, honest(read), reads.length - 1);
    if (read.live === 'sse') return sendEvents(response, pieces);
    const [piece] = pieces as [Piece];
    response
      .writeHead(200, {
        'content-type': 'application/json',
        'stream-next-offset': offsetOf(piece.next),
        ...(piece.upToDate ? { 'stream-up-to-date': 'true' } : {}),
        ...(piece.closed ? { 'stream-closed': 'true' } : {}),
        ...(read.live === null ? {} : { 'stream-cursor': String(reads.length) }),
      })
      .end(JSON.stringify(piece.data.map((n) => ({ n }))));
  });
  return Object.assign(server, { reads });
}

async function sendEvents(response: ServerResponse, pieces: Piece[]): Promise<void> {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const events = pieces.flatMap((piece) => [
    ...(piece.data.length > 0 ? [`event: data\ndata: ${JSON.stringify(piece.data.map((n) => ({ n })))}\n\n`] : []),
    `event: control\ndata: ${JSON.stringify({ streamNextOffset: offsetOf(piece.next), streamCursor: '1', ...(piece.upToDate ? { upToDate: true } : {}), ...(piece.closed ? { streamClosed: true } : {}) })}\n\n`,
  ]);
  await writeApart(response, events);
  if (!response.destroyed) response.end();
}

/** Reads the stream through `retryWithBackoff` (waits of 10, 20, 40 ms): the values, the retries' errors and delays, and the final error. */
async function readAll(server: LoopbackServer, live: DurableStreamLive) {
  const values: number[] = [];
  const retries: RetryEvent[] = [];
  const error = await lastValueFrom(
    fromDurableStream<{ n: number }>({ url: `${server.url}/s`, live }).pipe(
      tap(({ n }) => values.push(n)),
      retryWithBackoff({ initialDelay: 10, multiplier: 2, jitter: 'none', maxRetries: 3, onRetry: (event) => retries.push(event) }),
      toArray(),
    ),
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { values, retries, error };
}

const asRead = (live: string | null, offset: string): Read => ({ live, at: positionOf(offset) });

describe('fromDurableStream: a next offset that goes back, or data that does not move it', () => {
  let server: (LoopbackServer & { reads: Read[] }) | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const inconsistent = (offset: string, nextOffset: string) => ({ name: 'InconsistentOffsetError', retryable: true, offset, nextOffset });

  it('catch-up: an answer at a_0002 with messages 1-2 again and next offset a_0001 is dropped; the retry reads from a_0002', async () => {
    server = await startLyingServer((read, honest, n) => (n === 1 ? [stale(read.at)] : honest));
    const { values, retries, error } = await readAll(server, 'long-poll');
    expect(error).toBeUndefined();
    expect(values).toEqual([1, 2, 3, 4, 5, 6]);
    expect(retries.map((retry) => retry.error)).toEqual([expect.objectContaining(inconsistent('a_0002', 'a_0001'))]);
    expect(server.reads).toEqual([
      asRead(null, '-1'),
      asRead(null, 'a_0002'), // the lie
      asRead(null, 'a_0002'), // the retry, from where the client stood
      asRead('long-poll', 'a_0004'),
      asRead('long-poll', 'a_0005'),
    ]);
  });

  it('long-poll: an answer at a_0004 with messages 3-4 again and next offset a_0003 is dropped; the retry reads from a_0004', async () => {
    server = await startLyingServer((read, honest, n) => (n === 2 ? [stale(read.at)] : honest));
    const { values, retries, error } = await readAll(server, 'long-poll');
    expect(error).toBeUndefined();
    expect(values).toEqual([1, 2, 3, 4, 5, 6]);
    expect(retries.map((retry) => retry.error)).toEqual([expect.objectContaining(inconsistent('a_0004', 'a_0003'))]);
    expect(server.reads).toEqual([
      asRead(null, '-1'),
      asRead(null, 'a_0002'),
      asRead('long-poll', 'a_0004'), // the lie
      asRead(null, 'a_0004'), // the retry: a catch-up read from where the client stood
      asRead('long-poll', 'a_0005'),
    ]);
  });

  it('long-poll: an answer at a_0004 with message 5 and next offset a_0004 (data that does not move the offset) is dropped; the retry reads from a_0004', async () => {
    server = await startLyingServer((_read, honest, n) => (n === 2 ? [{ ...honest[0]!, next: 4 }] : honest));
    const { values, retries, error } = await readAll(server, 'long-poll');
    expect(error).toBeUndefined();
    expect(values).toEqual([1, 2, 3, 4, 5, 6]);
    expect(retries.map((retry) => retry.error)).toEqual([expect.objectContaining(inconsistent('a_0004', 'a_0004'))]);
    expect(server.reads).toEqual([asRead(null, '-1'), asRead(null, 'a_0002'), asRead('long-poll', 'a_0004'), asRead(null, 'a_0004'), asRead('long-poll', 'a_0005')]);
  });

  it('SSE: a control event at a_0005 that goes back to a_0004 drops the data before it (messages 4-5 again); the retry reads from a_0005', async () => {
    server = await startLyingServer((_read, honest, n) => (n === 2 ? [honest[0]!, stale(5), ...honest.slice(1)] : honest));
    const { values, retries, error } = await readAll(server, 'sse');
    expect(error).toBeUndefined();
    expect(values).toEqual([1, 2, 3, 4, 5, 6]);
    expect(retries.map((retry) => retry.error)).toEqual([expect.objectContaining(inconsistent('a_0005', 'a_0004'))]);
    expect(server.reads).toEqual([asRead(null, '-1'), asRead(null, 'a_0002'), asRead('sse', 'a_0004'), asRead(null, 'a_0005')]);
  });

  it('SSE: data (message 6) whose control event stays at a_0005 is dropped; the retry reads from a_0005', async () => {
    server = await startLyingServer((_read, honest, n) => (n === 2 ? [honest[0]!, { data: [6], next: 5, upToDate: true }, ...honest.slice(1)] : honest));
    const { values, retries, error } = await readAll(server, 'sse');
    expect(error).toBeUndefined();
    expect(values).toEqual([1, 2, 3, 4, 5, 6]);
    expect(retries.map((retry) => retry.error)).toEqual([expect.objectContaining(inconsistent('a_0005', 'a_0005'))]);
    expect(server.reads).toEqual([asRead(null, '-1'), asRead(null, 'a_0002'), asRead('sse', 'a_0004'), asRead(null, 'a_0005')]);
  });

  it('a control event without data that repeats the offset (a keep-alive) is no fault', async () => {
    server = await startLyingServer((_read, honest, n) => (n === 2 ? [honest[0]!, { data: [], next: 5, upToDate: true }, ...honest.slice(1)] : honest));
    const { values, retries, error } = await readAll(server, 'sse');
    expect(error).toBeUndefined();
    expect(values).toEqual([1, 2, 3, 4, 5, 6]);
    expect(retries).toEqual([]);
  });

  it.each<[DurableStreamLive, string]>([
    ['long-poll', 'long-poll'],
    ['sse', 'sse'],
  ])('a server that always goes back (live %p): no hot loop; one read per retry, with backoff, then the typed error', async (live, mode) => {
    // Two messages at the start, so the first catch-up is up to date and the client goes live at a_0002; every read after it lies.
    server = await startLyingServer((read, honest, n) => (n === 0 ? [{ ...honest[0]!, data: [1, 2], next: 2, upToDate: true }] : [stale(read.at)]));
    const { values, retries, error } = await readAll(server, live);
    expect(error).toMatchObject(inconsistent('a_0002', 'a_0001'));
    expect(values).toEqual([1, 2]);
    // The first read, the live read that lied, and one catch-up read (that lied too) per retry of the budget (3).
    expect(server.reads).toEqual([asRead(null, '-1'), asRead(mode, 'a_0002'), asRead(null, 'a_0002'), asRead(null, 'a_0002'), asRead(null, 'a_0002')]);
    expect(retries.map((retry) => retry.delay)).toEqual([10, 20, 40]);
  });

  it('a read from the sentinel now takes the tail offset the server hands out, and goes on from there', async () => {
    server = await startLyingServer((_read, honest) => honest);
    const values = await lastValueFrom(fromDurableStream<{ n: number }>({ url: `${server.url}/s`, offset: 'now', live: 'long-poll' }).pipe(toArray()));
    expect(values.map(({ n }) => n)).toEqual([5, 6]);
    expect(server.reads).toEqual([asRead(null, 'a_0004'), asRead('long-poll', 'a_0004'), asRead('long-poll', 'a_0005')]);
  });

  it('a server that echoes the credential into a next offset that goes back: the error never holds it', async () => {
    const key = 'sk-durable-offset-0123456789abcdef';
    let answered = 0;
    const plain = await startLoopbackServer((request, response) => {
      const live = new URL(request.url ?? '/', 'http://x').searchParams.get('live');
      const echoed = String(request.headers.authorization ?? '');
      const next = live === null ? 'zz_0001' : `aa_${echoed.replace(/ /g, '_')}`;
      // Bounded: a client that takes the lie is told, after a while, that the stream closed.
      const closed = ++answered > 20 ? { 'stream-closed': 'true' } : {};
      response.writeHead(200, { 'content-type': 'application/json', 'stream-next-offset': next, 'stream-up-to-date': 'true', ...closed }).end(live === null ? '[1]' : '[2]');
    });
    server = Object.assign(plain, { reads: [] });
    const seen: unknown[] = [];
    const error = await lastValueFrom(
      fromDurableStream({ url: `${server.url}/s`, live: 'long-poll', headers: { Authorization: `Bearer ${key}` } }).pipe(tap((value) => seen.push(value))),
    ).catch((e: unknown) => e);
    expect(seen).toEqual([1]);
    expect(error).toMatchObject({ name: 'InconsistentOffsetError', retryable: true, offset: 'zz_0001' });
    expect(server.requests.at(-1)!.headers.authorization).toBe(`Bearer ${key}`);
    expect(JSON.stringify(error) + String(error) + (error as Error).stack + (error as { nextOffset: string }).nextOffset).not.toContain(key);
  });

  it('an SSE control event that goes back to an offset with terminal escapes: the error holds none of them', async () => {
    let answered = 0;
    const plain = await startLoopbackServer((request, response) => {
      // Bounded: a client that takes the lie is told, after a while, that the stream closed.
      if (++answered > 20) return void response.writeHead(200, { 'content-type': 'application/json', 'stream-next-offset': 'zz_0009', 'stream-closed': 'true' }).end('[]');
      if (new URL(request.url ?? '/', 'http://x').searchParams.get('live') === null) {
        return void response.writeHead(200, { 'content-type': 'application/json', 'stream-next-offset': 'zz_0001', 'stream-up-to-date': 'true' }).end('[1]');
      }
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(`event: data\ndata: [2]\n\nevent: control\ndata: ${JSON.stringify({ streamNextOffset: 'aa_\u001b]0;owned\u0007\u001b[31mred\r\nforged' })}\n\n`);
    });
    server = Object.assign(plain, { reads: [] });
    const seen: unknown[] = [];
    const error = await lastValueFrom(fromDurableStream({ url: `${server.url}/s`, live: 'sse' }).pipe(tap((value) => seen.push(value)))).catch((e: unknown) => e);
    expect(seen).toEqual([1]);
    expect(error).toMatchObject({ name: 'InconsistentOffsetError', retryable: true, offset: 'zz_0001' });
    const { message, nextOffset } = error as { message: string; nextOffset: string };
    expect(message + nextOffset).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
    expect(nextOffset).toMatch(/^aa_/);
  });
});

describe('compareOffsets', () => {
  it.each<[string, string, number]>([
    ['a_0002', 'a_0001', 1],
    ['a_0001', 'a_0002', -1],
    ['a_0001', 'a_0001', 0],
    ['a_0001', 'a_00010', -1], // a prefix comes first
    ['-1', '!', -1], // the start comes before every offset, even one that sorts below "-1" as text
    ['!', '-1', 1],
    ['\uff61', '\u{1f600}', -1], // by code point (UTF-8 bytes), not by UTF-16 unit, where the emoji's surrogate sorts first
  ])('%p against %p: %p', (a, b, sign) => {
    expect(Math.sign(compareOffsets(a, b))).toBe(sign);
  });
});
