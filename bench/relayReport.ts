/** The figures of `npm run bench:relay`: medians over rounds, the table, and the issue's targets. */
import { isOptIn, OPT_IN_PATHS, pathOf, STORING_PATHS, type ClientResult, type Flow, type LatencySummary } from './relayTypes.js';
import { fmt, median } from './stats.js';

/** One run: one flow at one size in one round, with what the driver measured around it. */
export interface RunRecord {
  size: number;
  /** 0 is the probe round (heap, connections; its times are not counted). */
  round: number;
  flow: Flow;
  result: ClientResult;
  /** CPU time of instances A and B during the run, µs. */
  relayCpuMicros: number;
  redisCpuMicros: number;
  /**
   * Probe round only: heap growth of A + B per open stream (bytes), and the contender's Redis
   * connections per instance (the most seen in three samples; `unnamed`: connections with no
   * client name, which no contender should open).
   */
  heapPerStream?: number | undefined;
  connections?: { a: number; b: number; unnamed: number } | undefined;
}

/** A row of the table: one kind of reader of one run. */
export interface RowSpec {
  label: string;
  flow: Flow;
  group: keyof ClientResult['groups'];
}

export const ROWS: RowSpec[] = [
  { label: 'pass-through (no relay)', flow: 'direct', group: 'local' },
  { label: 'pass-through, run again (noise floor)', flow: 'directAgain', group: 'local' },
  { label: 'relay, memory store', flow: 'memory', group: 'local' },
  { label: 'relay, Redis, local readers', flow: 'redis', group: 'local' },
  { label: 'relay, Redis, remote readers (instance B)', flow: 'redisRemote', group: 'follow' },
  { label: 'relay, Redis, resuming readers (Last-Event-ID, B)', flow: 'redisRemote', group: 'resume' },
  { label: 'resumable-stream, first reader', flow: 'rs', group: 'local' },
  { label: 'resumable-stream, first reader, run again', flow: 'rsAgain', group: 'local' },
  { label: 'resumable-stream, remote readers (B)', flow: 'rsRemote', group: 'follow' },
  { label: 'resumable-stream, resuming readers (B)', flow: 'rsRemote', group: 'resume' },
  { label: 'resumable-stream, remote readers (B), run again', flow: 'rsRemoteAgain', group: 'follow' },
  { label: 'resumable-stream, resuming readers (B), run again', flow: 'rsRemoteAgain', group: 'resume' },
  ...OPT_IN_PATHS.flatMap((flow): RowSpec[] => [
    { label: `resumable-stream storing each value ${STORING_PATHS[flow].how}, remote readers (B)`, flow, group: 'follow' },
    { label: `resumable-stream storing each value ${STORING_PATHS[flow].how}, resuming readers (B)`, flow, group: 'resume' },
  ]),
  { label: 'Durable Streams reference server (B, in memory), producer on A, SSE readers', flow: 'dsReference', group: 'local' },
  { label: 'Durable Streams, our writeDurableLog (B, memory store), producer on A, SSE readers', flow: 'dsOurs', group: 'local' },
];

export interface RowFigures {
  size: number;
  row: RowSpec;
  /** Medians over the timed rounds of the per-round difference to pass-through, ms. */
  addedMedian: number;
  addedP99: number;
  median: number;
  p99: number;
  eventsPerSecond: number;
  relayCpuPerEvent: number;
  redisCpuPerEvent: number;
  heapPerStream: number;
  connections: { a: number; b: number; unnamed: number } | undefined;
  wrong: number;
  rounds: number;
}

/** Whether a flow uses the redis-server (the Durable Streams flows keep their streams in B's memory). */
const usesRedis = (flow: Flow) => !pathOf(flow).startsWith('ds') && !['direct', 'memory'].includes(pathOf(flow));

const groupOf = (record: RunRecord, row: RowSpec): LatencySummary | undefined => record.result.groups[row.group];

export function figures(records: RunRecord[], size: number): RowFigures[] {
  const timed = records.filter((record) => record.size === size && record.round > 0);
  const probe = records.filter((record) => record.size === size && record.round === 0);
  const baseline = new Map(timed.filter((record) => record.flow === 'direct').map((record) => [record.round, record.result.groups.local]));
  return ROWS.map((row) => {
    const runs = timed.filter((record) => record.flow === row.flow);
    const paired = (pick: (summary: LatencySummary) => number) =>
      median(
        runs.map((record) => {
          const own = groupOf(record, row);
          const base = baseline.get(record.round);
          return own && base ? pick(own) - pick(base) : NaN;
        }),
      );
    const probeRun = probe.find((record) => record.flow === row.flow);
    const uses = usesRedis(row.flow);
    return {
      size,
      row,
      addedMedian: paired((summary) => summary.median),
      addedP99: paired((summary) => summary.p99),
      median: median(runs.map((record) => groupOf(record, row)?.median ?? NaN)),
      p99: median(runs.map((record) => groupOf(record, row)?.p99 ?? NaN)),
      eventsPerSecond: median(runs.map((record) => record.result.eventsDelivered / (record.result.wallMs / 1000))),
      relayCpuPerEvent: median(runs.map((record) => record.relayCpuMicros / record.result.eventsDelivered)),
      redisCpuPerEvent: median(runs.map((record) => record.redisCpuMicros / record.result.eventsDelivered)),
      heapPerStream: probeRun?.heapPerStream ?? NaN,
      connections: uses ? probeRun?.connections : undefined,
      wrong: records.filter((record) => record.size === size && record.flow === row.flow).reduce((sum, record) => sum + record.result.wrong, 0),
      rounds: runs.length,
    };
  });
}

const signed = (value: number) => (Number.isFinite(value) ? `${value >= 0 ? '+' : ''}${value.toFixed(1)}` : '–');

export function table(all: RowFigures[]): string[] {
  const lines = [
    '| streams | path | added latency per event, median / p99 (ms) | latency median / p99 (ms) | events/s | relay CPU per event (µs, A+B) | redis-server CPU per event (µs) | heap per open stream (KiB, A+B) | Redis connections A / B | streams wrong |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  // An opt-in path's rows only when it ran.
  for (const f of all.filter((figure) => figure.rounds > 0 || !isOptIn(pathOf(figure.row.flow)))) {
    const base = f.row.flow === 'direct';
    const unnamed = f.connections && f.connections.unnamed > 0 ? ` (+${f.connections.unnamed} unnamed)` : '';
    const connections = f.connections ? `${f.connections.a} / ${f.connections.b}${unnamed}` : '–';
    lines.push(
      `| ${f.size.toLocaleString('en')} | ${f.row.label} | ${base ? '(baseline)' : `${signed(f.addedMedian)} / ${signed(f.addedP99)}`} | ${fmt(f.median, 1)} / ${fmt(f.p99, 1)} | ` +
        `${fmt(f.eventsPerSecond, 0)} | ${fmt(f.relayCpuPerEvent, 0)} | ${usesRedis(f.row.flow) ? fmt(f.redisCpuPerEvent, 0) : '–'} | ` +
        `${fmt(f.heapPerStream / 1024, 1)} | ${connections} | ${f.wrong} |`,
    );
  }
  return lines;
}

/** Why streams were wrong, per size and flow (a few reasons each), for the notes under the table. */
export function wrongNotes(records: RunRecord[]): string[] {
  const notes = new Map<string, { count: number; reasons: Set<string> }>();
  for (const record of records) {
    if (record.result.wrong === 0) continue;
    const key = `${record.size} streams, ${record.flow}`;
    const note = notes.get(key) ?? { count: 0, reasons: new Set<string>() };
    note.count += record.result.wrong;
    for (const reason of record.result.wrongSamples) note.reasons.add(reason.slice(0, 160));
    notes.set(key, note);
  }
  return [...notes].map(([key, note]) => `- ${key}: ${note.count} stream(s) over all rounds: ${[...note.reasons].slice(0, 3).join('; ')}`);
}

export interface Target {
  text: string;
  measured: string;
  pass: boolean;
  /**
   * The same comparison made between two runs of one contender in the same
   * rounds (pass-through against its second run; resumable-stream against
   * its own), when both ran: how the verdict falls when nothing differs.
   */
  floor?: { measured: string; pass: boolean } | undefined;
}

/**
 * What storing each value costs resumable-stream, when the opt-in paths ran:
 * each one's resuming readers' added p99 against plain resumable-stream's,
 * and the relay's beside them, at the largest size.
 */
export function storagePrices(all: RowFigures[], sizes: number[]): string[] {
  const top = Math.max(...sizes);
  const at = (flow: Flow, group: string) => all.find((f) => f.size === top && f.row.flow === flow && f.row.group === group)!;
  const plain = at('rsRemote', 'resume');
  const relay = at('redisRemote', 'resume');
  return OPT_IN_PATHS.filter((flow) => ran(at(flow, 'resume'), plain)).map((flow) => {
    const how = STORING_PATHS[flow].how;
    const stored = at(flow, 'resume');
    const over = stored.addedP99 <= plain.addedP99 ? 'at or under' : 'over';
    const relayPart = ran(relay) ? `; the relay's ${signed(relay.addedP99)} ms, redis-server ${fmt(relay.redisCpuPerEvent, 0)} µs per value` : '';
    return (
      `- resumable-stream storing each value ${how} at ${top} streams: resuming readers' added p99 ${signed(stored.addedP99)} ms, ${over} its plain run's ` +
      `${signed(plain.addedP99)} ms (redis-server ${fmt(stored.redisCpuPerEvent, 0)} against ${fmt(plain.redisCpuPerEvent, 0)} µs per value${relayPart})`
    );
  });
}

/** A target's verdict line, with its noise floor when measured. */
export function targetLine(goal: Target): string {
  const floor = goal.floor ? ` (noise floor, the same comparison between two runs of one contender: ${goal.floor.pass ? 'PASS' : 'MISS'}, ${goal.floor.measured})` : '';
  return `- ${goal.pass ? 'PASS' : 'MISS'}: ${goal.text}: ${goal.measured}${floor}`;
}

/** Both figures were measured (their flows ran in the timed rounds). */
const ran = (...figures: RowFigures[]) => figures.every((f) => f.rounds > 0);

/** The issue's four targets, each against the same run's contenders, at the largest size (connections: across sizes). */
export function targets(all: RowFigures[], sizes: number[]): Target[] {
  const top = Math.max(...sizes);
  const at = (size: number, flow: Flow, group: string) => all.find((f) => f.size === size && f.row.flow === flow && f.row.group === group)!;
  const local = at(top, 'redis', 'local');
  const resume = at(top, 'redisRemote', 'resume');
  const rsResume = at(top, 'rsRemote', 'resume');
  const rsResumeAgain = at(top, 'rsRemoteAgain', 'resume');
  const directAgain = at(top, 'directAgain', 'local');
  const cpuPairs: Array<[RowFigures, RowFigures, RowFigures, string]> = [
    [local, at(top, 'rs', 'local'), at(top, 'rsAgain', 'local'), 'local readers against resumable-stream first readers'],
    [resume, rsResume, rsResumeAgain, 'remote/resuming run against resumable-stream remote/resuming run'],
  ];
  const cpuAgainst = (ours: RowFigures, theirs: RowFigures) => ({
    measured: `${fmt(ours.relayCpuPerEvent, 0)} µs against ${fmt(theirs.relayCpuPerEvent, 0)} µs`,
    pass: ours.relayCpuPerEvent <= theirs.relayCpuPerEvent,
  });
  // Per instance and size: the most Redis connections either Redis run (local; remote and resuming) had.
  // A connection opened on first use (B's subscriber, by the first remote reader) stays open for later
  // runs, so a single run's count depends on what ran before it; the instance's count does not.
  const perSize = sizes.map((size) => {
    const runs = [at(size, 'redis', 'local').connections, at(size, 'redisRemote', 'follow').connections];
    if (runs.some((c) => c === undefined)) return undefined;
    return { a: Math.max(...runs.map((c) => c!.a)), b: Math.max(...runs.map((c) => c!.b)) };
  });
  const constant = perSize.every((c) => c !== undefined) && new Set(perSize.map((c) => c!.a)).size === 1 && new Set(perSize.map((c) => c!.b)).size === 1;
  const shown = sizes.map((size, i) => `${size}: ${perSize[i] ? `${perSize[i]!.a} / ${perSize[i]!.b}` : '?'}`).join(', ');
  return [
    {
      text: `Redis, local readers: added p99 within 2 ms of pass-through at ${top} streams`,
      measured: `${signed(local.addedP99)} ms`,
      pass: local.addedP99 <= 2,
      floor: ran(directAgain) ? { measured: `pass-through's second run ${signed(directAgain.addedP99)} ms`, pass: directAgain.addedP99 <= 2 } : undefined,
    },
    {
      text: `Redis, resuming readers: added p99 at or under resumable-stream's resuming readers at ${top} streams`,
      measured: `${signed(resume.addedP99)} ms against ${signed(rsResume.addedP99)} ms`,
      pass: resume.addedP99 <= rsResume.addedP99,
      floor: ran(rsResume, rsResumeAgain)
        ? { measured: `its second run ${signed(rsResumeAgain.addedP99)} ms against ${signed(rsResume.addedP99)} ms`, pass: rsResumeAgain.addedP99 <= rsResume.addedP99 }
        : undefined,
    },
    ...cpuPairs.map(([ours, theirs, again, what]) => ({
      text: `relay CPU per event on Redis at or under resumable-stream's (${what}) at ${top} streams`,
      ...cpuAgainst(ours, theirs),
      floor: ran(theirs, again) ? cpuAgainst(again, theirs) : undefined,
    })),
    {
      text: 'Redis connections per instance (A / B, the most of both Redis runs) the same at every size',
      measured: shown,
      pass: constant,
    },
  ];
}
