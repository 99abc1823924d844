/**
 * Without Chromium the browser check is skipped; the run's normal output must
 * say why, once, instead of a bare "1 skipped". Runs jest on that spec alone,
 * with CHROMIUM_PATH pointing nowhere. (Its results file is replaced by this
 * run's own when this run ends.)
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/ensureBuilt';

describe('the browser check without Chromium', () => {
  it('is skipped with a message saying why, printed once', () => {
    const missing = join(tmpdir(), `no-such-chromium-${process.pid}`);
    expect(existsSync(missing)).toBe(false);
    const run = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'), '--ci', 'spec/browserCheck\\.spec\\.ts$'], {
      cwd: ROOT,
      env: { ...process.env, CHROMIUM_PATH: missing },
      encoding: 'utf8',
      timeout: 120_000,
    });
    const output = `${run.stdout}${run.stderr}`;
    expect(run.status).toBe(0);
    // Every check of the spec is skipped, none run and none fail.
    const counts = /Tests:\s+(\d+) skipped, (\d+) total/.exec(output);
    expect(counts).not.toBeNull();
    expect(Number(counts![1])).toBeGreaterThan(0);
    expect(counts![1]).toBe(counts![2]);
    expect(output.split(`The browser check is skipped: no Chromium at ${missing}.`).length - 1).toBe(1);
  }, 130_000);
});
