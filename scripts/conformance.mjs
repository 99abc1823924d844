// Runs the official Durable Streams server conformance suite
// (@durable-streams/server-conformance-tests, vitest) against the reference
// server (the control) and against this library's endpoint
// (writeDurableLog) on the memory and the Redis DurableLogStore, one after the
// other, and prints the counts of each and the tests the reference passes
// that ours does not. Exit code: 1 when a run did not happen, when the
// reference passes fewer than REFERENCE_FLOOR (the suite or the set-up
// broke), or when ours passes fewer than OURS_FLOOR on a store (a
// regression), or when a test the reference passes fails on ours.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

const REFERENCE_FLOOR = 320;
const OURS_FLOOR = 329;
const targets = ['reference', 'memory', 'redis'];
const results = {};
let status = 0;
for (const target of targets) {
  const out = `.conformance-${target}.json`;
  rmSync(out, { force: true });
  const started = Date.now();
  spawnSync('npx', ['vitest', 'run', '--config', 'conformance/vitest.config.mts', '--reporter=json', `--outputFile=${out}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DS_TARGET: target },
    timeout: 10 * 60_000,
  });
  let report;
  try {
    report = JSON.parse(readFileSync(out, 'utf8'));
  } catch {
    console.log(`conformance ${target}: no report (the run failed to start)`);
    status = 1;
    continue;
  }
  const tests = new Map();
  for (const file of report.testResults) for (const test of file.assertionResults) tests.set(test.fullName, test.status);
  results[target] = tests;
  const count = (status) => [...tests.values()].filter((s) => s === status).length;
  const seconds = Math.round((Date.now() - started) / 1000);
  console.log(`conformance ${target}: ${count('passed')} passed, ${count('failed')} failed, ${count('skipped') + count('pending') + count('todo')} skipped of ${tests.size} (${seconds} s)`);
}
const passed = (target) => [...(results[target] ?? new Map()).entries()].filter(([, s]) => s === 'passed').map(([name]) => name);
if (passed('reference').length < REFERENCE_FLOOR) status = 1;
const gap = {};
for (const target of ['memory', 'redis']) {
  if (passed(target).length < OURS_FLOOR) status = 1;
  const ours = new Set(passed(target));
  gap[target] = passed('reference').filter((name) => !ours.has(name));
  console.log(`conformance ${target}: ${gap[target].length} tests pass on the reference and not here (listed in .conformance-gap.json)`);
  for (const name of gap[target]) console.log(`  ${target} gap: ${name}`);
  if (gap[target].length > 0) status = 1;
}
writeFileSync('.conformance-gap.json', `${JSON.stringify(gap, null, 2)}\n`);
process.exit(status);
