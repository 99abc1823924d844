import type { MockFault, MockScenario } from '../../src/testing/index.js';
import { mulberry32 } from './mulberry32';

/** One chaos scenario: the generation, the faults of each attempt, and how many retries it needs. */
export interface ChaosScenario {
  seed: number;
  scenario: MockScenario;
  script: MockScenario[];
  /** Which order of operators the pipeline uses. */
  order: 'accumulate-then-retry' | 'retry-then-accumulate';
  faults: number;
}

const PIECES = ['Hello', ' world', ', ', 'é', 'ü', '中文', '日本語', '🚀', '👩‍💻', '🇳🇴', ' and ', 'text', '\n', '"quoted"', '\\', ' 1.5 ', 'ß', 'naïve'];

/** Which API the mock server speaks to the scenario's client. */
export type ChaosApi = 'chat' | 'responses';

/**
 * A random mix of drops at random byte offsets (inside lines, JSON and UTF-8
 * characters), 429/500/502/503 with and without retry-after, stalls, dribbled
 * bytes, keep-alives, CRLF/CR framing and in-stream errors, then success
 * (sometimes with the socket held open after the end marker).
 *
 * With `api: 'responses'` (a background Responses API stream, which the
 * client resumes) the faults are those a resume survives without generating
 * anything again: drops, statuses and stalls, on the first request and on
 * the resuming `GET`s alike. An in-stream `error` fails the response, which
 * the client must start afresh, so it is left out there. Drop and stall
 * points range over the Responses API's events.
 */
export function chaosScenario(seed: number, api: ChaosApi = 'chat'): ChaosScenario {
  const random = mulberry32(seed);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  const text = Array.from({ length: int(3, 30) }, () => pick(PIECES)).join('');
  const toolCalls = Array.from({ length: pick([0, 0, 0, 1, 2]) }, (_, k) => ({
    name: `tool_${k}`,
    arguments: JSON.stringify({ city: pick(['Oslo', 'Zürich', '東京']), n: int(0, 99), note: pick(PIECES) }),
  }));
  const tokenSize = int(1, 8);
  const scenario: MockScenario = {
    text,
    toolCalls,
    tokenSize,
    reasoning: random() < 0.2 ? 'Thinking 🤔 first.' : undefined,
    lineEnding: pick(['\n', '\n', '\r\n', '\r'] as const),
    keepAliveEvery: pick([0, 0, 1, 3]),
  };
  // How many chunks one full generation has: role, reasoning, text, each call's opening and argument fragments, finish, usage.
  const fragments = (value = '') => Math.ceil(Array.from(value).length / tokenSize);
  const chunkCount =
    api === 'chat'
      ? 3 + fragments(scenario.reasoning) + fragments(text) + toolCalls.reduce((sum, call) => sum + 1 + fragments(call.arguments), 0)
      : responsesEventCount(fragments(scenario.reasoning), fragments(text), toolCalls.map((call) => fragments(call.arguments)));
  // Dribbling writes a few bytes per event-loop turn, and a turn is slow on a starved
  // machine: keep it to ~1,000 writes per response, so byte-by-byte dribbling happens
  // on short answers and a run stays quick.
  const dribble = () => (random() < 0.15 ? Math.max(int(1, 24), Math.ceil((chunkCount * 250) / 1000)) : undefined);
  const faults = pick([0, 1, 1, 2, 2, 3]);
  const script: MockScenario[] = [];
  for (let i = 0; i < faults; i++) {
    const kind = pick(api === 'chat' ? (['drop', 'drop', 'drop', 'status', 'status', 'stall', 'error'] as const) : (['drop', 'drop', 'drop', 'status', 'status', 'stall'] as const));
    let fault: MockFault;
    if (kind === 'drop') {
      fault = { kind, afterChunks: int(0, chunkCount), atByte: pick([undefined, 'midCharacter', int(0, 40), int(0, 200)]) };
    } else if (kind === 'status') {
      fault = { kind, status: pick([429, 500, 502, 503]), retryAfterMs: pick([undefined, int(1, 15)]), retryAfter: pick([undefined, undefined, 0, 'Thu, 01 Jan 1970 00:00:00 GMT']) };
    } else if (kind === 'stall') {
      fault = { kind, afterChunks: int(0, chunkCount) };
    } else {
      fault = { kind, afterChunks: int(1, chunkCount), errorType: 'server_error' };
    }
    script.push({ fault, dribble: dribble() });
  }
  // The successful attempt; sometimes it holds the socket open after [DONE], which must not hang.
  script.push({ dribble: dribble(), fault: random() < 0.1 ? { kind: 'holdOpen' } : undefined });
  return { seed, scenario, script, order: seed % 2 === 0 ? 'accumulate-then-retry' : 'retry-then-accumulate', faults };
}

/**
 * How many events one Responses API generation has (the mock's rendering):
 * created, in_progress; a reasoning item (added, part added, its deltas,
 * text done, part done, item done); the message item (the same five around
 * its deltas); each function call (added, its deltas, arguments done, item
 * done); the terminal event.
 */
function responsesEventCount(reasoningDeltas: number, textDeltas: number, argumentDeltas: number[]): number {
  const reasoning = reasoningDeltas > 0 ? 5 + reasoningDeltas : 0;
  const message = textDeltas > 0 || argumentDeltas.length === 0 ? 5 + textDeltas : 0;
  return 2 + reasoning + message + argumentDeltas.reduce((sum, deltas) => sum + 3 + deltas, 0) + 1;
}
