import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { concatWith, defer, EMPTY, lastValueFrom, retry, share, shareReplay, tap, throwError, toArray, type Observable } from 'rxjs';
import { NetworkError, StreamInterruptedError } from '../src/errors';
import { retryWithBackoff } from '../src/operators/retryWithBackoff';
import { fromDurableStream } from '../src/sources/fromDurableStream';
import { streamStartOf } from '../src/streamStart';

jest.setTimeout(60_000);

/**
 * A two-message Durable Streams stream on 127.0.0.1 (JSON mode, read with
 * `live: false`): offset -1 answers [{n:1}] (next offset o1), o1 answers
 * [{n:2}] and closes the stream. `breaks` reads of o1 have their connection
 * destroyed instead; `closesEarly` reads of o1 answer no message and say the
 * stream closed (a server that ended short of the answer's end). Every
 * requested offset is recorded.
 */
interface TwoMessageServer {
  url: string;
  offsets: string[];
  breaks: number;
  closesEarly: number;
}

let server: Server;
let stream: TwoMessageServer;

beforeAll(async () => {
  server = createServer((request, response) => {
    const offset = new URL(request.url!, 'http://x').searchParams.get('offset')!;
    stream.offsets.push(offset);
    if (offset === '-1') {
      response.writeHead(200, { 'content-type': 'application/json', 'stream-next-offset': 'o1' });
      response.end('[{"n":1}]');
    } else if (offset === 'o1' && stream.breaks > 0) {
      stream.breaks -= 1;
      request.socket.destroy();
    } else if (offset === 'o1' && stream.closesEarly > 0) {
      stream.closesEarly -= 1;
      response.writeHead(200, { 'content-type': 'application/json', 'stream-next-offset': 'o1', 'stream-up-to-date': 'true', 'stream-closed': 'true' });
      response.end('[]');
    } else if (offset === 'o1') {
      response.writeHead(200, { 'content-type': 'application/json', 'stream-next-offset': 'o2', 'stream-up-to-date': 'true', 'stream-closed': 'true' });
      response.end('[{"n":2}]');
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  stream = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/stream/s`, offsets: [], breaks: 0, closesEarly: 0 };
});

const source = () => fromDurableStream<{ n: number }>({ url: stream.url, live: false });
const fastRetry = { initialDelay: 1, jitter: 'none', maxRetries: 3 } as const;
const all = <T>(observable: Observable<T>) => lastValueFrom(observable.pipe(toArray()));

describe('fromDurableStream is cold: what a retry carries lives in the retry chain', () => {
  it('a later subscription after one that failed starts fresh at the start, unmarked', async () => {
    stream.breaks = 1;
    const messages = source();
    const first: unknown[] = [];
    await expect(lastValueFrom(messages.pipe(tap((value) => first.push(value))))).rejects.toBeInstanceOf(NetworkError);
    expect(first).toEqual([{ n: 1 }]);
    const later = await all(messages);
    expect(later).toEqual([{ n: 1 }, { n: 2 }]);
    expect(streamStartOf(later[0])).toEqual({ resumed: false, stream: expect.any(Object) });
    expect(stream.offsets).toEqual(['-1', 'o1', '-1', 'o1']);
  });

  it('a retryWithBackoff retry resumes from the last offset, marked resumed on the same stream token', async () => {
    stream.breaks = 1;
    const values = await all(source().pipe(retryWithBackoff(fastRetry)));
    expect(values).toEqual([{ n: 1 }, { n: 2 }]);
    expect(stream.offsets).toEqual(['-1', 'o1', 'o1']);
    expect(streamStartOf(values[0])).toEqual({ resumed: false, stream: expect.any(Object) });
    expect(streamStartOf(values[1])).toEqual({ resumed: true, stream: streamStartOf(values[0])!.stream });
  });

  it('a retry after the read completed short of the end (StreamInterruptedError downstream, as untilDone raises) resumes from the last offset', async () => {
    stream.closesEarly = 1;
    // Like untilDone: the pipeline needs {n:2}; a completion before it is an interruption, retried.
    const untilSecond = (messages: Observable<{ n: number }>) =>
      defer(() => {
        let ended = false;
        return messages.pipe(
          tap((value) => (ended ||= value.n === 2)),
          concatWith(defer(() => (ended ? EMPTY : throwError(() => new StreamInterruptedError())))),
        );
      });
    const values = await all(untilSecond(source()).pipe(retryWithBackoff(fastRetry)));
    expect(values).toEqual([{ n: 1 }, { n: 2 }]);
    expect(stream.offsets).toEqual(['-1', 'o1', 'o1']);
    expect(streamStartOf(values[1])).toEqual({ resumed: true, stream: streamStartOf(values[0])!.stream });
  });

  it("RxJS's own retry() is not a retry chain: each resubscription reads again from the start", async () => {
    stream.breaks = 1;
    const values = await all(source().pipe(retry(1)));
    expect(values).toEqual([{ n: 1 }, { n: 1 }, { n: 2 }]);
    expect(stream.offsets).toEqual(['-1', 'o1', '-1', 'o1']);
  });

  it('a subscriber that arrives during another one’s retry wait starts fresh, and the waiting one still resumes', async () => {
    stream.breaks = 1;
    const messages = source();
    let newcomer: Promise<Array<{ n: number }>> | undefined;
    const waiting = all(
      messages.pipe(retryWithBackoff({ ...fastRetry, initialDelay: 50, onRetry: () => (newcomer = all(messages.pipe(retryWithBackoff(fastRetry)))) })),
    );
    const resumedValues = await waiting;
    expect(resumedValues).toEqual([{ n: 1 }, { n: 2 }]);
    expect(await newcomer).toEqual([{ n: 1 }, { n: 2 }]);
    expect(stream.offsets.filter((offset) => offset === '-1')).toHaveLength(2);
    expect(stream.offsets.filter((offset) => offset === 'o1')).toHaveLength(3);
  });

  it('two parallel subscriptions are two fresh reads with their own stream tokens', async () => {
    const messages = source();
    const [a, b] = await Promise.all([all(messages), all(messages)]);
    expect(a).toEqual([{ n: 1 }, { n: 2 }]);
    expect(b).toEqual([{ n: 1 }, { n: 2 }]);
    expect(streamStartOf(a[0])!.stream).not.toBe(streamStartOf(b[0])!.stream);
    expect(stream.offsets.sort()).toEqual(['-1', '-1', 'o1', 'o1']);
  });

  it('share(): one read for every subscriber, resumed once after a failure', async () => {
    stream.breaks = 1;
    const shared = source().pipe(retryWithBackoff(fastRetry), share());
    const [a, b] = await Promise.all([all(shared), all(shared)]);
    expect(a).toEqual([{ n: 1 }, { n: 2 }]);
    expect(b).toEqual([{ n: 1 }, { n: 2 }]);
    expect(stream.offsets).toEqual(['-1', 'o1', 'o1']);
  });

  it('shareReplay(): a late subscriber gets the replay with no read of its own', async () => {
    stream.breaks = 1;
    const replayed = source().pipe(retryWithBackoff(fastRetry), shareReplay());
    expect(await all(replayed)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(await all(replayed)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(stream.offsets).toEqual(['-1', 'o1', 'o1']);
  });
});
