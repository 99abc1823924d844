/** Messages between the driver of `npm run bench:relay` and its client process, and the streams' addresses both use. */

/**
 * How the clients of one run reach the streams:
 * - `direct`, `memory`, `redis`, `rs`: one reader per stream, on instance A, which runs the stream;
 * - `redisRemote`, `rsRemote`: every even stream is started on A and read on B from its start
 *   (a remote reader); every odd one is read on A for `resumeAfter` events, dropped, and
 *   resumed on B where it was (a resuming reader).
 * - `rsStoredRemote`, `rsFencedRemote`, `rsXaddRemote` (opt-in, named in `--flows`): `rsRemote`,
 *   with each value the provider emits on A also written to Redis: through a `redisRelayStore`
 *   as the relay writes it (a claim, then one fenced append per value, then the end), as one
 *   minimal fenced script per value (the lease token compared, `XADD`, the log's expiry renewed),
 *   or as one bare `XADD` per value. They price the relay's storage: what resumable-stream's
 *   figures become when it pays it (see docs/performance.md).
 * - `dsReference`, `dsOurs`: a Durable Streams server in instance B (the reference server
 *   `@durable-streams/server` in memory, or this library's `writeDurableLog` on
 *   `memoryDurableLogStore`); A runs the provider and appends each value to it (`POST`), and
 *   the reader reads the stream from B over the protocol's SSE (`?offset=-1&live=sse`).
 */
export type Path = 'direct' | 'memory' | 'redis' | 'redisRemote' | 'rs' | 'rsRemote' | 'rsStoredRemote' | 'rsFencedRemote' | 'rsXaddRemote' | 'dsReference' | 'dsOurs';

/** The paths that price the relay's storage: each one's first part of its URLs on A and B (relayServer.ts), and how it stores a value. */
export const STORING_PATHS = {
  rsStoredRemote: { url: 'rs-stored', how: 'as the relay does' },
  rsFencedRemote: { url: 'rs-fenced', how: 'by a minimal fenced script' },
  rsXaddRemote: { url: 'rs-xadd', how: 'as a bare XADD' },
} as const satisfies Partial<Record<Path, { url: string; how: string }>>;

/** The paths a full run leaves out unless `--flows` names them: the storing ones. */
export const OPT_IN_PATHS = Object.keys(STORING_PATHS) as Array<keyof typeof STORING_PATHS>;

/** Whether `path` runs only when `--flows` names it. */
export function isOptIn(path: Path): boolean {
  return (OPT_IN_PATHS as readonly Path[]).includes(path);
}

/**
 * A flow is a path, or the second run of one in the same round (`directAgain`,
 * `rsAgain`, `rsRemoteAgain`): the same server code and clients under another
 * name. Two runs of one contender give each target its noise floor, the same
 * comparison made between identical contenders (see relayReport.ts).
 */
export type Flow = Path | 'directAgain' | 'rsAgain' | 'rsRemoteAgain';

/** The path a flow runs. */
export function pathOf(flow: Flow): Path {
  return flow === 'directAgain' ? 'direct' : flow === 'rsAgain' ? 'rs' : flow === 'rsRemoteAgain' ? 'rsRemote' : flow;
}

/** Stream `index` of run `runId` on the Durable Streams server at `origin`: where the clients read it, and the driver deletes it. */
export function durableStreamUrl(origin: string, runId: string, index: number): string {
  return `${origin}/v1/stream/${runId}-${index}`;
}

export interface ClientRun {
  type: 'run';
  runId: string;
  flow: Flow;
  urls: { a: string; b: string; dsReference: string; dsOurs: string };
  streams: number;
  events: number;
  gapMs: number;
  staggerMs: number;
  resumeAfter: number;
}

export interface LatencySummary {
  count: number;
  median: number;
  p99: number;
  max: number;
}

export interface ClientResult {
  type: 'result';
  wallMs: number;
  /** Streams whose events were not exactly the provider's, and a few reasons. */
  wrong: number;
  wrongSamples: string[];
  /** Data events that reached a client, over every connection. */
  eventsDelivered: number;
  groups: { local?: LatencySummary | undefined; follow?: LatencySummary | undefined; resume?: LatencySummary | undefined };
}
