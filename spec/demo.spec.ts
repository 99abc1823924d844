import { join } from 'node:path';
import { ensureBuilt, ROOT } from './support/ensureBuilt';
import { runScript } from './support/runScript';

/** Runs `npm run demo`'s script as a child process and collects its output. */
const runDemo = () => runScript(join(ROOT, 'demo', 'demo.mjs'), [], { env: { ...process.env, NO_COLOR: '1' } });

describe('npm run demo', () => {
  beforeAll(() => ensureBuilt(), 120_000);

  it('survives a mid-character drop, a 429 with Retry-After and a stall, then prints a matching summary within 30 s', async () => {
    const { code, stdout, stderr, seconds } = await runDemo();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(seconds).toBeLessThan(30);
    const retryLines = stdout.split('\n').filter((line) => line.startsWith('⚠ retry'));
    expect(retryLines).toHaveLength(3);
    expect(retryLines[0]).toMatch(/^⚠ retry 1 in \d+ ms \(NetworkError: /);
    expect(retryLines[1]).toMatch(/^⚠ retry 2 in 1000 ms \(HttpError: .*429/);
    expect(retryLines[2]).toMatch(/^⚠ retry 3 in \d+ ms \(IdleTimeoutError: /);
    expect(stdout).toContain('retries: 3');
    expect(stdout).toMatch(/chunks received: \d+ over 4 requests/);
    expect(stdout).toContain('✔ text matches what the server sent');
    // The finished answer is printed whole, once, after the last restart.
    const afterLastRestart = stdout.slice(stdout.lastIndexOf('↻ restarted'));
    expect(afterLastRestart).toContain('This answer survived all three and arrived exactly once.');
    expect(afterLastRestart.split('Streams break in real life').length).toBe(2);
  }, 40_000);
});
