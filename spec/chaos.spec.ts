import { from, lastValueFrom, mergeMap, timeout, toArray, type Observable } from 'rxjs';
import { accumulateContent, fromChatCompletion, retryWithBackoff, untilDone, type ChatCompletionEvent, type ChatCompletionSnapshot } from '../src/index.js';
import { expectedOutput, startMockChatServer } from '../src/testing/index.js';
import { chaosScenario, type ChaosScenario } from './support/chaosScenario';

/**
 * Seeded chaos over real HTTP: each scenario is a random mix of faults, then
 * success; the final snapshot must equal one full generation exactly.
 *
 *   CHAOS_SCENARIOS=10000 npm run test:chaos      run any number
 *   CHAOS_SEED=123 CHAOS_SCENARIOS=1 npm run test:chaos   replay one scenario
 */
const SCENARIOS = Number(process.env.CHAOS_SCENARIOS ?? 300);
const FIRST_SEED = Number(process.env.CHAOS_SEED ?? 1);
const CONCURRENCY = Number(process.env.CHAOS_CONCURRENCY ?? 12);
const MAX_RETRIES = 5;
const HANG_LIMIT_MS = 15_000;

type Verdict = 'exact' | 'lost' | 'duplicated' | 'wrong' | 'hung' | 'failed';

interface Outcome {
  seed: number;
  verdict: Verdict;
  requests: number;
  detail: string;
}

const pipelines: Record<ChaosScenario['order'], (source: Observable<ChatCompletionEvent>) => Observable<ChatCompletionSnapshot>> = {
  'accumulate-then-retry': (source) => source.pipe(untilDone(), accumulateContent(), retryWithBackoff({ initialDelay: 2, maxDelay: 20, maxRetries: MAX_RETRIES })),
  'retry-then-accumulate': (source) => source.pipe(untilDone(), retryWithBackoff({ initialDelay: 2, maxDelay: 20, maxRetries: MAX_RETRIES }), accumulateContent()),
};

async function runScenario(seed: number): Promise<Outcome> {
  const chaos = chaosScenario(seed);
  const server = await startMockChatServer({ scenario: chaos.scenario, script: chaos.script });
  try {
    const source = fromChatCompletion({ baseURL: `${server.url}/v1`, body: { model: 'mock-model', messages: [{ role: 'user', content: 'chaos' }] }, idleTimeout: 150 });
    const snapshot = await lastValueFrom(pipelines[chaos.order](source).pipe(timeout({ first: HANG_LIMIT_MS, each: HANG_LIMIT_MS })));
    const requests = server.requests.length;
    return { seed, requests, ...judge(snapshot, chaos) };
  } catch (error) {
    const verdict: Verdict = (error as Error).name === 'TimeoutError' ? 'hung' : 'failed';
    return { seed, verdict, requests: server.requests.length, detail: `${(error as Error).name}: ${(error as Error).message}` };
  } finally {
    await server.close();
  }
}

function judge(snapshot: ChatCompletionSnapshot, chaos: ChaosScenario): { verdict: Verdict; detail: string } {
  const expected = expectedOutput(chaos.scenario);
  const toolCalls = snapshot.toolCalls.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments }));
  const text = expected.content[0]!;
  if (snapshot.content === text && JSON.stringify(toolCalls) === JSON.stringify(expected.toolCalls) && snapshot.finishReason === expected.finishReason && snapshot.reasoning === expected.reasoning) {
    return { verdict: 'exact', detail: '' };
  }
  const got = `${JSON.stringify(snapshot.content)} tools=${JSON.stringify(toolCalls)} finish=${snapshot.finishReason}`;
  if (snapshot.content.length > text.length && snapshot.content.includes(text)) return { verdict: 'duplicated', detail: got };
  if (text.startsWith(snapshot.content) && snapshot.content.length < text.length) return { verdict: 'lost', detail: got };
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
    const retries = outcomes.map((outcome) => outcome.requests - 1);
    const overBound = outcomes.filter((outcome) => outcome.requests > Math.min(MAX_RETRIES, chaosScenario(outcome.seed).faults) + 1);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    process.stdout.write(
      `chaos: ${outcomes.length} scenarios, exact ${count('exact')}, lost ${count('lost')}, duplicated ${count('duplicated')}, wrong ${count('wrong')}, ` +
        `hung ${count('hung')}, failed ${count('failed')}; retries median ${median(retries)}, max ${Math.max(...retries)}; over the retry bound ${overBound.length}; ${seconds} s\n`,
    );
    const bad = outcomes.filter((outcome) => outcome.verdict !== 'exact').concat(overBound);
    const report = bad
      .slice(0, 20)
      .map((outcome) => `seed ${outcome.seed}: ${outcome.verdict} after ${outcome.requests} requests ${outcome.detail}\n  replay: CHAOS_SEED=${outcome.seed} CHAOS_SCENARIOS=1 npm run test:chaos`)
      .join('\n');
    expect(report).toBe('');
    expect(outcomes).toHaveLength(SCENARIOS);
  }, 600_000);
});
