import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, ROOT } from './support/ensureBuilt';
import { runScript } from './support/runScript';

const CHROMIUM = process.env['CHROMIUM_PATH'] || '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  // Said once, in the run's normal output, so "1 skipped" never goes unexplained.
  console.warn(`The browser check is skipped: no Chromium at ${CHROMIUM}. Install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH.`);
}

/** Runs `node examples/browser/check.mjs` as a child process, killed after 90 s. */
const runCheck = (args: string[]) => runScript(join(ROOT, 'examples', 'browser', 'check.mjs'), ['--chromium', CHROMIUM, ...args], { limitMs: 90_000 });

describe('examples/browser/check.mjs (the plain browser check)', () => {
  let dir: string;

  beforeAll(() => {
    if (!hasChromium) return;
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'browser-check-'));
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const title = 'streams the exact text in Chromium through a mid-character drop and a 429, stops on click, and takes a screenshot';
  (hasChromium ? it : it.skip)(hasChromium ? title : `${title} [SKIPPED: no Chromium at ${CHROMIUM}; install chromium or set CHROMIUM_PATH]`, async () => {
    const screenshot = join(dir, 'browser-check.png');
    const { code, stdout, stderr } = await runCheck(['--screenshot', screenshot]);
    expect({ code, failures: stdout.split('\n').filter((line) => line.startsWith('✘') || line.startsWith('    ')), stderr }).toEqual({
      code: 0,
      failures: [],
      stderr: '',
    });
    const passed = stdout.split('\n').filter((line) => line.startsWith('✔'));
    expect(passed.length).toBeGreaterThanOrEqual(11);
    expect(stdout).toContain('✔ its text is exactly what the server sent');
    expect(stdout).toContain('✔ the server saw the request aborted (AbortController)');
    expect(stdout.trim().endsWith('browser check passed')).toBe(true);
    // A PNG file: the 8-byte signature.
    expect(readFileSync(screenshot).subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  }, 100_000);
});

describe('examples/browser/redirectCheck.mjs (credentials across origins, in Chromium)', () => {
  beforeAll(() => {
    if (hasChromium) ensureBuilt();
  }, 120_000);

  const title = 'a 307 to another origin sends neither x-api-key nor x-goog-api-key there, and the first origin sees each POST once';
  (hasChromium ? it : it.skip)(hasChromium ? title : `${title} [SKIPPED: no Chromium at ${CHROMIUM}; install chromium or set CHROMIUM_PATH]`, async () => {
    const { code, stdout, stderr } = await runScript(join(ROOT, 'examples', 'browser', 'redirectCheck.mjs'), ['--chromium', CHROMIUM], { limitMs: 90_000 });
    expect({ code, failures: stdout.split('\n').filter((line) => line.startsWith('✘') || line.startsWith('    ')), stderr }).toEqual({
      code: 0,
      failures: [],
      stderr: '',
    });
    expect(stdout).toContain('✔ no x-api-key or x-goog-api-key reached the other origin');
    expect(stdout).toContain('✔ the first origin saw each POST once (2 POSTs), got 2');
    expect(stdout.trim().endsWith('redirect check passed')).toBe(true);
  }, 100_000);
});
