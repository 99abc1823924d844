import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, ROOT } from './support/ensureBuilt';
import { runScript, type ScriptRun } from './support/runScript';

const SCRIPT = join(ROOT, 'examples', 'node-pipeline', 'pipeline.mjs');

type RunResult = ScriptRun;

interface ResultRecord {
  index: number;
  prompt: string;
  status: string;
  content: string;
  finishReason: string | null;
  attempts: number;
  retries: number;
  error?: { name: string; message: string; status?: number };
}

interface Summary {
  prompts: number;
  ok: number;
  failed: number;
  retries: number;
  requests: number;
  concurrency: number;
  maxInFlight: number;
  peakOpenRequests: number;
  faultsInjected: Record<string, number>;
}

/** Runs the example as a child process, killed after 30 s. */
const runExample = (args: string[]) => runScript(SCRIPT, args);

// The work list and the exact answers the mock server is scripted to send for it.
const WORK = [
  { prompt: 'Say hello.', answer: 'Hello! 👋' },
  { prompt: 'Translate "coffee" to French.', answer: 'café — « un café, s’il vous plaît ».' },
  { prompt: 'Count in Chinese.', answer: '一、二、三、四、五、六、七、八、九、十。' },
  { prompt: 'An empty answer, please.', answer: '' },
  { prompt: 'Emoji only.', answer: '🚀🌍🎉👩‍👩‍👧‍👦🇫🇷' },
  { prompt: 'Lines and quotes.', answer: 'line 1\nline 2\r\nline "3"\ttab \\ backslash' },
  { prompt: 'SSE look-alikes.', answer: 'data: [DONE]\n\nevent: error\n: keep-alive\nid: 7' },
  { prompt: 'JSON in the text.', answer: '{"error":{"message":"not really"}} and [1, 2, 3]' },
  { prompt: 'Greek and Cyrillic.', answer: 'Καλημέρα κόσμε · Привет, мир · Grüße aus Köln' },
  { prompt: 'A long one.', answer: Array.from({ length: 40 }, (_, i) => `sentence ${i} with é and 中 and 🙂.`).join(' ') },
  { prompt: 'Combining marks.', answer: 'e\u0301 a\u0308 n\u0303 — Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇' },
  { prompt: 'Right to left.', answer: 'שלום עולם · مرحبا بالعالم' },
  { prompt: 'Numbers.', answer: '3.14159 2.71828 1.41421 6.02e23' },
  { prompt: 'Say hello.', answer: 'Hello! 👋' },
];

describe('examples/node-pipeline', () => {
  let dir: string;
  let input: string;

  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'node-pipeline-'));
    input = join(dir, 'prompts.json');
    writeFileSync(input, JSON.stringify(WORK));
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the example on WORK and parses its records (from --out) and its summary (stdout). */
  async function run(name: string, extra: string[]): Promise<{ result: RunResult; records: ResultRecord[]; summary: Summary }> {
    const out = join(dir, `${name}.ndjson`);
    const result = await runExample(['--input', input, '--out', out, ...extra]);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const { summary } = JSON.parse(lines[0]!) as { summary: Summary };
    const records = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ResultRecord);
    return { result, records, summary };
  }

  function byIndex(records: ResultRecord[]): ResultRecord[] {
    const sorted = [...records].sort((a, b) => a.index - b.index);
    expect(sorted.map((r) => r.index)).toEqual(WORK.map((_, i) => i));
    return sorted;
  }

  it('answers every prompt exactly through seeded faults, at the given concurrency, with a consistent summary', async () => {
    // A generous idle timeout, as below: the exact count of retries holds only when the idle timeout strikes the
    // stalled streams alone (under load, a 400 ms one also struck a stream that was only slow: one retry more).
    const { result, records, summary } = await run('faults', ['--seed', '11', '--concurrency', '3', '--fault-rate', '0.7', '--idle-timeout', '3000']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);

    const sorted = byIndex(records);
    sorted.forEach((record, i) => {
      expect(record.prompt).toBe(WORK[i]!.prompt);
      expect({ index: i, status: record.status, content: record.content }).toEqual({ index: i, status: 'done', content: WORK[i]!.answer });
      expect(record.finishReason).toBe('stop');
      expect(record.retries).toBe(record.attempts - 1);
    });

    const attempts = sorted.reduce((sum, r) => sum + r.attempts, 0);
    const faults = Object.values(summary.faultsInjected).reduce((sum, n) => sum + n, 0);
    expect(summary).toMatchObject({ prompts: WORK.length, ok: WORK.length, failed: 0, concurrency: 3, maxInFlight: 3 });
    expect(summary.retries).toBe(attempts - WORK.length);
    expect(summary.requests).toBe(attempts);
    // Every injected fault except holdOpen (which ends with [DONE]) costs exactly one retry.
    expect(summary.retries).toBe(faults - (summary.faultsInjected['holdOpen'] ?? 0));
    expect(summary.retries).toBeGreaterThan(3);
    expect(Object.keys(summary.faultsInjected).length).toBeGreaterThanOrEqual(3);
    expect(summary.peakOpenRequests).toBeGreaterThan(1);
    expect(result.stdout + readFileSync(join(dir, 'faults.ndjson'), 'utf8')).not.toContain('sk-example');
  }, 120_000);

  it('injects the same faults for the same seed whatever the concurrency', async () => {
    // A generous idle timeout: on a loaded machine a 400 ms one can also strike
    // a stream that is only slow, an extra attempt that no seed decides.
    const parallel = await run('seeded-4', ['--seed', '5', '--concurrency', '4', '--idle-timeout', '3000']);
    const serial = await run('seeded-1', ['--seed', '5', '--concurrency', '1', '--idle-timeout', '3000']);
    expect(parallel.result.code).toBe(0);
    expect(serial.result.code).toBe(0);
    expect(serial.summary.maxInFlight).toBe(1);
    expect(parallel.summary.maxInFlight).toBe(4);
    expect(serial.summary.faultsInjected).toEqual(parallel.summary.faultsInjected);
    expect(byIndex(serial.records).map((r) => r.attempts)).toEqual(byIndex(parallel.records).map((r) => r.attempts));
    expect(byIndex(serial.records).map((r) => r.content)).toEqual(WORK.map((w) => w.answer));
    expect(byIndex(parallel.records).map((r) => r.content)).toEqual(WORK.map((w) => w.answer));
  }, 60_000);

  it('reports prompts that fail for good (a 400 is not retried), answers the rest, and exits 1', async () => {
    const { result, records, summary } = await run('unrecoverable', ['--seed', '3', '--concurrency', '2', '--unrecoverable', '2']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    const sorted = byIndex(records);
    const failed = sorted.filter((r) => r.status === 'failed');
    expect(failed).toHaveLength(2);
    for (const record of failed) {
      expect(record.error).toMatchObject({ name: 'HttpError', status: 400 });
      expect(record.attempts).toBe(1);
    }
    for (const record of sorted.filter((r) => r.status !== 'failed')) {
      expect(record.status).toBe('done');
      expect(record.content).toBe(WORK[record.index]!.answer);
    }
    expect(summary).toMatchObject({ ok: WORK.length - 2, failed: 2 });
  }, 40_000);

  it('writes NDJSON records then the summary to stdout without --out, and rejects a bad option with exit code 2', async () => {
    // A generous idle timeout, as above: this test is about the output, and on a loaded machine a 400 ms one can strike a slow stream.
    const plain = await runExample(['--prompts', '3', '--seed', '1', '--fault-rate', '0', '--idle-timeout', '3000']);
    expect(plain.code).toBe(0);
    const lines = plain.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(4);
    expect(lines.slice(0, 3).every((line) => line['status'] === 'done' && line['attempts'] === 1)).toBe(true);
    expect(lines[3]).toMatchObject({ summary: { prompts: 3, ok: 3, failed: 0, retries: 0, requests: 3 } });

    const bad = await runExample(['--concurrency', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('--concurrency must be an integer >= 1');
  }, 40_000);
});
