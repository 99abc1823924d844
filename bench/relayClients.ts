/**
 * The clients of `npm run bench:relay`, in their own process (so their work
 * is not the relay's): on the driver's `run` message, opens `streams`
 * concurrent SSE streams over loopback (started evenly over `staggerMs`),
 * reads each to its end, checks that it got exactly the provider's events
 * (n = 0 … events−1 in order, once each, then the `done` event), and answers
 * the latency of every event per reader kind.
 *
 * Latency of an event = the time it arrived here − max(the time the
 * provider's schedule made it due, the time this connection was asked for). Both clocks
 * are wall clocks (`performance.timeOrigin + performance.now()`) of
 * processes on one machine; the offset between them is the same for every
 * contender, so it cancels in "added over pass-through".
 */
import { Agent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { createParser } from 'eventsource-parser';
import { ASKED_AT_HEADER, clientTraceLine, TRACE_RESUMES, wallNow } from './resumeTrace.js';
import { quantile } from './stats.js';
import { durableStreamUrl, pathOf, STORING_PATHS, type ClientRun, type ClientResult, type LatencySummary, type Path } from './relayTypes.js';

const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
const now = wallNow;
/** With `BENCH_TRACE_RESUMES=1`: the latencies of each resumed connection's first event, and of the events after it (see resumeTrace.ts). */
const traced = { firstsCaughtUp: [] as number[], firstsFollowed: [] as number[], later: [] as number[] };

interface Received {
  n: number[];
  content: string[];
  latencies: number[];
  /** The SSE id of the last event, and the characters of the body up to the end of the last whole frame. */
  lastId: string | undefined;
  wholeChars: number;
  done: boolean;
  other: string[];
  /** Whether the first event was due before this connection was asked for (a resume catches it up rather than follows it). */
  firstDueBefore?: boolean;
}

/**
 * GETs `url` as an event stream and hands a 200 response to `onOk`; a
 * timeout with no byte, a request error or another status rejects.
 */
function getEventStream(
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
  reject: (error: Error) => void,
  onOk: (response: IncomingMessage, req: ClientRequest) => void,
): void {
  const req = httpRequest(url, { agent, headers: { accept: 'text/event-stream', ...headers }, timeout: timeoutMs });
  req.on('timeout', () => req.destroy(new Error(`no byte for ${timeoutMs} ms`)));
  req.on('error', reject);
  req.on('response', (response) => {
    if (response.statusCode !== 200) {
      response.resume();
      response.on('end', () => reject(new Error(`status ${response.statusCode}`)));
      return;
    }
    onOk(response, req);
  });
  req.end();
}

/** Records one provider value that arrived at `at` for a connection asked for at `since`. */
function receive(got: Received, value: { n: number; t: number; content: string }, at: number, since: number): void {
  if (got.n.length === 0) got.firstDueBefore = value.t < since;
  got.n.push(value.n);
  got.content.push(value.content);
  got.latencies.push(at - Math.max(value.t, since));
}

/** Reads one SSE response; with `stopAfter`, drops the connection once that many data events arrived. */
function read(url: string, options: { lastEventId?: string; stopAfter?: number; timeoutMs: number; traced?: boolean }): Promise<Received> {
  const since = now();
  const got: Received = { n: [], content: [], latencies: [], lastId: undefined, wholeChars: 0, done: false, other: [] };
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = options.lastEventId === undefined ? {} : { 'last-event-id': options.lastEventId };
    if (options.traced === true && TRACE_RESUMES) headers[ASKED_AT_HEADER] = String(since);
    getEventStream(url, headers, options.timeoutMs, reject, (response, req) => {
      let stopped = false;
      let text = '';
      const parser = createParser({
        onEvent: (event) => {
          const at = now();
          if (event.id !== undefined) got.lastId = event.id;
          if (event.event === 'done') {
            got.done = true;
            return;
          }
          if (event.event !== undefined) {
            got.other.push(`${event.event}: ${event.data.slice(0, 80)}`);
            return;
          }
          receive(got, JSON.parse(event.data) as { n: number; t: number; content: string }, at, since);
        },
      });
      response.setEncoding('utf8');
      response.on('data', (piece: string) => {
        if (stopped) return;
        text += piece;
        parser.feed(piece);
        got.wholeChars = text.lastIndexOf('\n\n') + 2;
        if (options.stopAfter !== undefined && got.n.length >= options.stopAfter) {
          stopped = true;
          req.destroy();
          resolve(got);
        }
      });
      response.on('end', () => resolve(got));
      response.on('close', () => resolve(got));
      response.on('error', reject);
    });
  });
}

/**
 * Reads a Durable Stream from its start over the protocol's SSE (`offset=-1&live=sse`): each
 * `data` event is a JSON array of values, each `control` event carries the next offset; done
 * at the `control` event with `streamClosed`. A response that ends before it (the server's SSE
 * time limit) is read on from the last control's offset, as the protocol asks (at most 20 times).
 */
async function readDurable(streamUrl: string, timeoutMs: number): Promise<Received> {
  const since = now();
  const got: Received = { n: [], content: [], latencies: [], lastId: undefined, wholeChars: 0, done: false, other: [] };
  let offset = '-1';
  for (let connection = 0; connection < 20 && !got.done; connection++) {
    await new Promise<void>((resolve, reject) => {
      getEventStream(`${streamUrl}?offset=${encodeURIComponent(offset)}&live=sse`, {}, timeoutMs, reject, (response, req) => {
        const parser = createParser({
          onEvent: (event) => {
            const at = now();
            if (event.event === 'control') {
              const control = JSON.parse(event.data) as { streamNextOffset: string; streamClosed?: boolean };
              offset = control.streamNextOffset;
              if (control.streamClosed) {
                got.done = true;
                req.destroy();
                resolve();
              }
              return;
            }
            if (event.event !== 'data') {
              got.other.push(`${event.event ?? 'message'}: ${event.data.slice(0, 80)}`);
              return;
            }
            for (const value of JSON.parse(event.data) as Array<{ n: number; t: number; content: string }>) receive(got, value, at, since);
          },
        });
        response.setEncoding('utf8');
        response.on('data', (piece: string) => parser.feed(piece));
        response.on('end', () => resolve());
        response.on('close', () => resolve());
        response.on('error', reject);
      });
    });
  }
  return got;
}

/** The first part of a remote path's URLs on A and B (see relayServer.ts). */
const REMOTE_URLS: Partial<Record<Path, string>> = {
  redisRemote: 'redis',
  rsRemote: 'rs',
  ...Object.fromEntries(Object.entries(STORING_PATHS).map(([path, storing]) => [path, storing.url])),
};

/** The reader kind whose latencies an event of each connection counts for. */
type Kind = 'local' | 'follow' | 'resume';

/** Asks A to start a stream without reading it (answer 204). */
function post(url: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', agent, timeout: timeoutMs });
    req.on('timeout', () => req.destroy(new Error(`no answer for ${timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (response) => {
      response.resume();
      response.on('end', () => (response.statusCode === 204 ? resolve() : reject(new Error(`start: status ${response.statusCode}`))));
    });
    req.end();
  });
}

interface Outcome {
  /** Why the events are not exactly the provider's; undefined when they are. */
  problem: string | undefined;
  /** Data events that reached this stream's readers, over all its connections. */
  delivered: number;
}

async function oneStream(run: ClientRun, flow: Path, index: number, sink: Record<Kind, number[]>): Promise<Outcome> {
  const id = `${run.runId}-${index}`;
  const { a, b } = run.urls;
  const timeoutMs = run.events * run.gapMs + 60_000;
  const pieces: Received[] = [];
  if (flow === 'dsReference' || flow === 'dsOurs') {
    // The producer runs on A and appends to the Durable Streams server on B; the reader reads that server.
    const streamUrl = durableStreamUrl(run.urls[flow], run.runId, index);
    await post(`${a}/ds/start/${id}?to=${encodeURIComponent(streamUrl)}`, timeoutMs);
    const got = await readDurable(streamUrl, timeoutMs);
    pieces.push(got);
    sink.local.push(...got.latencies);
  } else if (flow === 'direct' || flow === 'memory' || flow === 'redis' || flow === 'rs') {
    const got = await read(`${a}/${flow}/${id}`, { timeoutMs });
    pieces.push(got);
    sink.local.push(...got.latencies);
  } else {
    const kind = REMOTE_URLS[flow]!;
    if (index % 2 === 0) {
      // A remote reader: the stream runs on A, this reader follows it on B from the start.
      await post(`${a}/${kind}/start/${id}`, timeoutMs);
      const got = await read(`${b}/${kind}/read/${id}`, { timeoutMs });
      pieces.push(got);
      sink.follow.push(...got.latencies);
    } else {
      // A resuming reader: reads the first events on A, drops, and resumes on B where it was.
      const first = await read(`${a}/${kind}/${id}`, { stopAfter: run.resumeAfter, timeoutMs });
      pieces.push(first);
      const rest =
        kind === 'redis'
          ? await read(`${b}/redis/read/${id}`, { ...(first.lastId === undefined ? {} : { lastEventId: first.lastId }), timeoutMs, traced: true })
          : await read(`${b}/${kind}/read/${id}?skip=${first.wholeChars}`, { timeoutMs, traced: true });
      pieces.push(rest);
      sink.resume.push(...rest.latencies);
      if (TRACE_RESUMES && rest.latencies.length > 0) {
        (rest.firstDueBefore === true ? traced.firstsCaughtUp : traced.firstsFollowed).push(rest.latencies[0]!);
        traced.later.push(...rest.latencies.slice(1));
      }
    }
  }
  return { problem: check(pieces, run.events), delivered: pieces.reduce((sum, piece) => sum + piece.n.length, 0) };
}

/** Why the stream's events are not exactly the provider's, or undefined when they are. */
function check(pieces: Received[], events: number): string | undefined {
  const n = pieces.flatMap((piece) => piece.n);
  const content = pieces.flatMap((piece) => piece.content);
  const other = pieces.flatMap((piece) => piece.other);
  if (other.length > 0) return `unexpected events: ${other.slice(0, 2).join(' | ')}`;
  if (n.length !== events) return `${n.length} events, expected ${events} (${n.slice(0, 40).join(',')})`;
  for (let i = 0; i < events; i++) {
    if (n[i] !== i || content[i] !== `token ${i} `) return `event ${i} is n=${n[i]} "${content[i]}"`;
  }
  if (!pieces[pieces.length - 1]!.done) return 'no done event at the end';
  return undefined;
}

function summarize(latencies: number[]): LatencySummary | undefined {
  if (latencies.length === 0) return undefined;
  const sorted = latencies.sort((x, y) => x - y);
  return { count: sorted.length, median: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1]! };
}

async function runAll(run: ClientRun): Promise<ClientResult> {
  const sink: Record<Kind, number[]> = { local: [], follow: [], resume: [] };
  const started = now();
  const outcomes = await Promise.all(
    Array.from(
      { length: run.streams },
      (_, index) =>
        new Promise<Outcome>((resolve) => {
          const go = () => oneStream(run, pathOf(run.flow), index, sink).then(resolve, (error: Error) => resolve({ problem: `failed: ${error.message}`, delivered: 0 }));
          setTimeout(go, (index * run.staggerMs) / run.streams);
        }),
    ),
  );
  const wallMs = now() - started;
  if (traced.firstsCaughtUp.length + traced.firstsFollowed.length > 0) process.stderr.write(`${clientTraceLine(run.flow, traced)}\n`);
  traced.firstsCaughtUp = [];
  traced.firstsFollowed = [];
  traced.later = [];
  const wrong = outcomes.flatMap((outcome) => (outcome.problem === undefined ? [] : [outcome.problem]));
  return {
    type: 'result',
    wallMs,
    wrong: wrong.length,
    wrongSamples: [...new Set(wrong)].slice(0, 3),
    eventsDelivered: outcomes.reduce((sum, outcome) => sum + outcome.delivered, 0),
    groups: { local: summarize(sink.local), follow: summarize(sink.follow), resume: summarize(sink.resume) },
  };
}

process.on('message', (message: ClientRun) => {
  if (message.type !== 'run') return;
  runAll(message).then(
    (result) => process.send!(result),
    (error: Error) => process.send!({ type: 'error', message: error.message }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
