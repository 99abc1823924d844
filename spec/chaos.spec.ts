import { from, lastValueFrom, mergeMap, timeout, toArray, type Observable } from 'rxjs';
import {
  accumulateContent,
  fromChatCompletion,
  retryWithBackoff,
  untilDone,
  type ChatCompletionEvent,
  type ChatCompletionSnapshot,
  type RetryWithBackoffOptions,
} from '../src/index.js';
import { expectedOutput, startMockChatServer } from '../src/testing/index.js';
import { chaosScenario, type ChaosScenario } from './support/chaosScenario';

/**
 * Seeded chaos over real HTTP: each scenario is a random mix of faults, then
 * success; the final snapshot must equal one full generation exactly.
 *
 *   CHAOS_SCENARIOS=10000 npm run test:chaos               run any number
 *   CHAOS_SEED=123 CHAOS_SCENARIOS=1 npm run test:chaos    replay one scenario
 *   CHAOS_CONCURRENCY=4                                    fewer at once on a busy machine
 */
const SCENARIOS = Number(process.env.CHAOS_SCENARIOS ?? 300);
const FIRST_SEED = Number(process.env.CHAOS_SEED ?? 1);
const CONCURRENCY = Number(process.env.CHAOS_CONCURRENCY ?? 8);
/**
 * The library's default. Scenarios script at most 3 faults; the rest is headroom for
 * idle timeouts that a starved event loop causes (server and client share this
 * process, so a long GC pause looks like a silent connection).
 */
const MAX_RETRIES = 10;
/** Catches the scripted stalls; short, so a run stays quick. */
const IDLE_TIMEOUT_MS = 250;
/** A scenario still running after this has hung. */
const HANG_LIMIT_MS = 20_000;

type Verdict = 'exact' | 'lost' | 'duplicated' | 'wrong' | 'hung' | 'failed' | 'unexplained-request';

interface Outcome {
  seed: number;
  verdict: Verdict;
  requests: number;
  /** Retries the client made (an attempt aborted by an idle timeout before the server read it is not a request there). */
  retries: number;
  /** Idle timeouts beyond the scripted stalls: the machine was too busy to read in time. */
  spuriousIdle: number;
  detail: string;
}

type Pipeline = (source: Observable<ChatCompletionEvent>, retry: RetryWithBackoffOptions) => Observable<ChatCompletionSnapshot>;

/** The two orders of the contract; the second relies on accumulateContent restarting at a new completion id. */
const pipelines: Record<ChaosScenario['order'], Pipeline> = {
  'accumulate-then-retry': (source, retry) => source.pipe(untilDone(), accumulateContent(), retryWithBackoff(retry)),
  'retry-then-accumulate': (source, retry) => source.pipe(untilDone(), retryWithBackoff(retry), accumulateContent()),
};

async function runScenario(seed: number): Promise<Outcome> {
  const chaos = chaosScenario(seed);
  const server = await startMockChatServer({ scenario: chaos.scenario, script: chaos.script });
  const causes: string[] = [];
  const explain = (verdict: Verdict, detail: string): Outcome => {
    const stalls = chaos.script.filter((step) => step.fault?.kind === 'stall').length;
    const idle = causes.filter((name) => name === 'IdleTimeoutError').length;
    const spuriousIdle = Math.max(0, idle - stalls);
    const requests = server.requests.length;
    // Every request but the first follows one retried error (no attempt is ever made
    // twice), and every error other than a (possibly spurious) idle timeout was scripted.
    const planned = chaos.script.filter((step) => step.fault && step.fault.kind !== 'stall' && step.fault.kind !== 'holdOpen').length;
    const unexplained =
      verdict === 'exact' && (requests > causes.length + 1 || causes.length - idle > planned || requests > chaos.faults + 1 + spuriousIdle);
    return {
      seed,
      verdict: unexplained ? 'unexplained-request' : verdict,
      requests,
      retries: causes.length,
      spuriousIdle,
      detail: `${detail} (order ${chaos.order}, ${chaos.faults} scripted faults, retried after [${causes.join(', ')}])`,
    };
  };
  try {
    const source = fromChatCompletion({
      baseURL: `${server.url}/v1`,
      body: { model: 'mock-model', messages: [{ role: 'user', content: 'chaos' }] },
      idleTimeout: IDLE_TIMEOUT_MS,
    });
    const retry: RetryWithBackoffOptions = {
      initialDelay: 2,
      maxDelay: 20,
      maxRetries: MAX_RETRIES,
      onRetry: ({ error }) => causes.push((error as Error).name),
    };
    const snapshot = await lastValueFrom(pipelines[chaos.order](source, retry).pipe(timeout({ first: HANG_LIMIT_MS, each: HANG_LIMIT_MS })));
    const { verdict, detail } = judge(snapshot, chaos);
    return explain(verdict, detail);
  } catch (error) {
    const { name, message } = error as Error;
    return explain(name === 'TimeoutError' ? 'hung' : 'failed', `${name}: ${message}`);
  } finally {
    await server.close();
  }
}

/** Exact, or how it differs from one full generation. */
function judge(snapshot: ChatCompletionSnapshot, chaos: ChaosScenario): { verdict: Verdict; detail: string } {
  const expected = expectedOutput(chaos.scenario);
  const text = expected.content[0]!;
  const toolCalls = snapshot.toolCalls.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments }));
  const exact =
    snapshot.content === text &&
    snapshot.reasoning === expected.reasoning &&
    JSON.stringify(toolCalls) === JSON.stringify(expected.toolCalls) &&
    snapshot.finishReason === expected.finishReason &&
    snapshot.choices.length === 1 &&
    snapshot.usage !== undefined;
  if (exact) return { verdict: 'exact', detail: '' };
  const got = `got ${JSON.stringify(snapshot.content)} tools=${JSON.stringify(toolCalls)} finish=${snapshot.finishReason}`;
  if (snapshot.content.length > text.length && snapshot.content.includes(text)) return { verdict: 'duplicated', detail: got };
  if (snapshot.content.length < text.length && text.startsWith(snapshot.content)) return { verdict: 'lost', detail: got };
  return { verdict: 'wrong', detail: got };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.floor((sorted.length - 1) / 2)]!;
}

describe('chaos', () => {
  it(`${SCENARIOS} seeded scenarios from seed ${FIRST_SEED}: every final snapshot exact, none hung, requests within the retry bound`, async () => {
    const started = performance.now();
    const seeds = Array.from({ length: SCENARIOS }, (_, i) => FIRST_SEED + i);
    const outcomes = await lastValueFrom(from(seeds).pipe(mergeMap((seed) => runScenario(seed), CONCURRENCY), toArray()));
    const count = (verdict: Verdict) => outcomes.filter((outcome) => outcome.verdict === verdict).length;
    const retries = outcomes.map((outcome) => outcome.retries);
    const spurious = outcomes.reduce((sum, outcome) => sum + outcome.spuriousIdle, 0);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    process.stdout.write(
      `chaos: ${outcomes.length} scenarios (seeds ${FIRST_SEED}..${FIRST_SEED + SCENARIOS - 1}), exact ${count('exact')}, lost ${count('lost')}, ` +
        `duplicated ${count('duplicated')}, wrong ${count('wrong')}, hung ${count('hung')}, failed ${count('failed')}, ` +
        `unexplained requests ${count('unexplained-request')}; retries median ${median(retries)}, max ${Math.max(0, ...retries)} ` +
        `(bound ${MAX_RETRIES}); idle timeouts beyond the scripted stalls ${spurious}; ${seconds} s, ` +
        `rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB\n`,
    );
    const report = outcomes
      .filter((outcome) => outcome.verdict !== 'exact')
      .slice(0, 20)
      .map(
        (outcome) =>
          `seed ${outcome.seed}: ${outcome.verdict} after ${outcome.requests} requests: ${outcome.detail}\n` +
          `  replay: CHAOS_SEED=${outcome.seed} CHAOS_SCENARIOS=1 npm run test:chaos`,
      )
      .join('\n');
    expect(report).toBe('');
    expect(outcomes).toHaveLength(SCENARIOS);
    expect(Math.max(0, ...retries)).toBeLessThanOrEqual(MAX_RETRIES);
  }, 900_000);
});
