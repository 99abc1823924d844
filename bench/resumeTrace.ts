/**
 * An opt-in trace of the resumes in `npm run bench:relay`
 * (`BENCH_TRACE_RESUMES=1`): where a resuming reader's time goes before its
 * first event, for the relay and for resumable-stream alike. It changes no
 * figure of the report; it prints lines on stderr, one per peer and per run
 * of a remote path:
 *
 * - from the clients' process: the latency of the first event of each
 *   resumed connection (the figure the resuming readers' p99 comes from),
 *   and of the events after it;
 * - from instance B, per resuming request (each on a new connection), the
 *   medians and p90s of: asked → accepted (the client starts the request →
 *   B's server accepts its connection), accepted → routed (B parses it and
 *   calls the route), routed → found (relay: `relay.has`; resumable-stream:
 *   `resumeExistingStream`, which answers once instance A has sent what it
 *   holds), found → first write (relay: `frames` subscribes, reads its
 *   position, and waits for the next event when the client has them all;
 *   resumable-stream: what A sent is at hand).
 *
 * Times are wall clocks (`performance.timeOrigin + performance.now()`) of
 * processes on one machine.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { median, quantile } from './stats.js';

export const TRACE_RESUMES = process.env.BENCH_TRACE_RESUMES === '1';
/** The header a resuming client sends: when it started the request (ms since the epoch, fractional). */
export const ASKED_AT_HEADER = 'x-bench-asked-at';

export const wallNow = () => performance.timeOrigin + performance.now();

type Peer = 'relay' | 'resumable-stream';
const STEPS = ['asked', 'accepted', 'routed', 'found', 'written'] as const;
type Resume = { peer: Peer } & Partial<Record<(typeof STEPS)[number], number>>;

const acceptedAt = new WeakMap<Socket, number>();
const resumes: Resume[] = [];

/** Notes when `server` accepts each connection (only when tracing). */
export function traceConnections(server: Server): void {
  if (TRACE_RESUMES) server.on('connection', (socket: Socket) => acceptedAt.set(socket, wallNow()));
}

/**
 * Starts the trace of a request when it is a traced resume (it carries
 * `ASKED_AT_HEADER`); returns what to call once the stream is found.
 */
export function traceResume(request: IncomingMessage, response: ServerResponse, peer: Peer): () => void {
  const asked = Number(request.headers[ASKED_AT_HEADER]);
  if (!TRACE_RESUMES || !Number.isFinite(asked)) return () => undefined;
  const resume: Resume = { peer, asked, accepted: acceptedAt.get(request.socket), routed: wallNow() };
  resumes.push(resume);
  const write = response.write;
  response.write = function (this: ServerResponse, ...args: unknown[]) {
    resume.written ??= wallNow();
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof response.write;
  return () => {
    resume.found = wallNow();
  };
}

/** One line per peer traced since the last call, then forgets them. */
export function serverTraceLines(): string[] {
  const lines: string[] = [];
  for (const peer of ['relay', 'resumable-stream'] as const) {
    const mine = resumes.filter((resume) => resume.peer === peer);
    if (mine.length === 0) continue;
    const steps = STEPS.slice(1).map((step, i) => {
      const gaps = mine.flatMap((resume) => {
        const from = resume[STEPS[i]!];
        const to = resume[step];
        return from === undefined || to === undefined ? [] : [to - from];
      });
      return `${STEPS[i]} → ${step} ${ms(median(gaps))} / ${ms(quantile(gaps, 0.9))}`;
    });
    lines.push(`resume trace, instance B, ${peer} (${mine.length} resumes; median / p90 ms): ${steps.join(', ')}`);
  }
  resumes.length = 0;
  return lines;
}

/** The latencies a run's clients traced: each resumed connection's first event (due before it was asked for, or after), and the events after it. */
export interface ClientTrace {
  readonly firstsCaughtUp: readonly number[];
  readonly firstsFollowed: readonly number[];
  readonly later: readonly number[];
}

/** The clients' line for one run. */
export function clientTraceLine(flow: string, trace: ClientTrace): string {
  const summary = (values: readonly number[]) =>
    values.length === 0 ? 'none' : `${values.length}, median ${ms(median([...values]))}, p90 ${ms(quantile(values, 0.9))}, p99 ${ms(quantile(values, 0.99))}`;
  return (
    `resume trace, clients, ${flow} (ms): first event after a resume, due before the resume was asked for: ${summary(trace.firstsCaughtUp)}; ` +
    `due after: ${summary(trace.firstsFollowed)}; later events: median ${ms(median([...trace.later]))}, p99 ${ms(quantile(trace.later, 0.99))}`
  );
}

const ms = (value: number) => value.toFixed(1);
