/**
 * npm run bench:compare -- <git ref> [--rounds N]
 *
 * This build against the build of another commit, side by side in one
 * process: FLOOR, that commit's library and this one run in every round,
 * back to back, in the benchmark's four throughput modes. A ratio to FLOOR
 * moves with the machine's state (docs/performance.md); the ratio of two
 * builds measured in the same rounds much less, so this is how to tell
 * whether a change made the library faster. The other commit is checked out
 * in a temporary git worktree, shares this checkout's node_modules (so both
 * builds use the same rxjs and eventsource-parser) and is built there with
 * its own `scripts/build.mjs`; the worktree is removed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { floor, library, libraryOf, type Contender, type LibraryParts, type Result } from './contenders.js';
import { inMemoryFetch, startBenchServer, type Fetch } from './delivery.js';
import { cut, generateStream, type GeneratedStream } from './generator.js';
import { table, type Row } from './report.js';
import { rounds } from './rounds.js';
import { fmt, pairedRatio } from './stats.js';

const ref = process.argv[2];
const roundsFlag = process.argv.indexOf('--rounds');
const roundCount = roundsFlag > 0 ? Number(process.argv[roundsFlag + 1]) : 15;
const log = (line: string) => process.stdout.write(`${line}\n`);

/** Builds `ref` in a temporary worktree and loads its CommonJS build; `remove` deletes the worktree. */
function buildOf(ref: string): { parts: LibraryParts; remove: () => void } {
  const root = join(__dirname, '..');
  const dir = join(mkdtempSync(join(tmpdir(), 'rxjs-llm-stream-compare-')), 'tree');
  execFileSync('git', ['worktree', 'add', '--detach', dir, ref], { cwd: root, stdio: 'ignore' });
  const remove = () => {
    execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: root, stdio: 'ignore' });
    rmSync(join(dir, '..'), { recursive: true, force: true });
  };
  try {
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    if (!existsSync(join(dir, 'scripts', 'build.mjs'))) throw new Error(`${ref} has no scripts/build.mjs to build it with`);
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: dir, stdio: 'ignore' });
    return { parts: require(join(dir, 'dist', 'cjs', 'index.js')) as LibraryParts, remove };
  } catch (error) {
    remove();
    throw error;
  }
}

/** The contenders' ms per round in one mode, after two warm-up rounds; a wrong answer stops the comparison. */
async function measure(contenders: Record<string, Contender>, expected: GeneratedStream, fetch: Fetch, url: string): Promise<Record<string, number[]>> {
  const right = (name: string, result: Result) => {
    if (result.text !== expected.text || result.args !== expected.args) throw new Error(`${name} gave the wrong text`);
    return true;
  };
  return rounds(contenders, roundCount, (contender) => contender(fetch, url), right, 2);
}

async function main(): Promise<void> {
  if (!ref || !Number.isInteger(roundCount) || roundCount < 1) throw new Error('usage: npm run bench:compare -- <git ref> [--rounds N]');
  const other = buildOf(ref);
  try {
    const contenders: Record<string, Contender> = { FLOOR: floor, [ref]: libraryOf(other.parts), 'this build': library };
    const text = generateStream(100_000, 'text');
    const tools = generateStream(100_000, 'tools', 43);
    const rows: Row[] = [];
    const add = (mode: string, times: Record<string, number[]>) => {
      rows.push({
        mode,
        [`${ref} / FLOOR`]: fmt(pairedRatio(times[ref]!, times.FLOOR!)),
        'this build / FLOOR': fmt(pairedRatio(times['this build']!, times.FLOOR!)),
        [`this build / ${ref}`]: fmt(pairedRatio(times['this build']!, times[ref]!), 3),
      });
      log(`  measured ${mode}`);
    };
    for (const [mode, stream, pieces] of [
      ['16 KiB pieces', text, cut(text.bytes, '16k')],
      ['tiny pieces (1–64 B)', text, cut(text.bytes, 'tiny')],
      ['tool-call arguments, 16 KiB', tools, cut(tools.bytes, '16k')],
    ] as const) {
      add(mode, await measure(contenders, stream, inMemoryFetch(pieces), 'http://bench.invalid/v1'));
    }
    const server = await startBenchServer(() => cut(text.bytes, '16k'));
    try {
      add('loopback HTTP', await measure(contenders, text, globalThis.fetch as Fetch, server.url));
    } finally {
      await server.close();
    }
    log('');
    log(`Medians of per-round ratios, ${roundCount} rounds of 100k chunks, Node ${process.version}:`);
    log(table(rows));
  } finally {
    other.remove();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
