import { join } from 'node:path';
import { ensureBuilt, ROOT } from './support/ensureBuilt';
import { runScript, type ScriptRun } from './support/runScript';

/** Runs `npm run demo`'s script as a child process and collects its output. */
const runDemo = () => runScript(join(ROOT, 'demo', 'demo.mjs'), [], { env: { ...process.env, NO_COLOR: '1' } });

describe('npm run demo', () => {
  /** One run of the demo, shared by the specs of its two scenes. */
  let demo: ScriptRun;
  beforeAll(async () => {
    await ensureBuilt();
    demo = await runDemo();
  }, 160_000);

  it('survives a mid-character drop, a 429 with Retry-After and a stall, then prints a matching summary within 30 s', () => {
    const { code, stdout, stderr, seconds } = demo;
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
  });

  it('survives the same drop by restart and by resume: the restart generated more than one answer, the resume exactly one', () => {
    const { code, stdout } = demo;
    expect(code).toBe(0);
    const scene = stdout.slice(stdout.indexOf('Scene 2:'));
    const [, dropAt, answerTokens] = /after (\d+) of the answer's (\d+) tokens/.exec(scene) ?? [];
    const row = (name: string) => new RegExp(`^${name} {3,}(.+?) {3,}(.+)$`, 'm').exec(scene)?.slice(1) ?? [];
    const [restartGenerated, resumeGenerated] = row('tokens generated').map(Number);
    const oneAnswer = Number(answerTokens);
    expect(row("one answer's tokens").map(Number)).toEqual([oneAnswer, oneAnswer]);
    // The restart generated the part before the drop again; the resume generated nothing twice.
    expect(restartGenerated).toBeGreaterThan(oneAnswer);
    expect(restartGenerated).toBeGreaterThanOrEqual(oneAnswer + Number(dropAt));
    expect(resumeGenerated).toBe(oneAnswer);
    expect(row('requests')).toEqual(['2: POST, POST', expect.stringMatching(/^2: POST, GET \?stream=true&starting_after=\d+$/)]);
    expect(row('text exact')).toEqual(['yes', 'yes']);
    expect(row('time to the full answer')).toEqual([expect.stringMatching(/^\d+\.\d\d s$/), expect.stringMatching(/^\d+\.\d\d s$/)]);
    // Live, the restart starts the text over and the resume goes on.
    expect(scene.indexOf('↺ started over')).toBeGreaterThan(-1);
    expect(scene.indexOf('⏵ resumed')).toBeGreaterThan(scene.indexOf('↺ started over'));
    expect(scene).toContain('✔ both texts exact');
    // Into a log (not a terminal), the resume prints only the rest: the text is not printed again, so it cannot read like a restart.
    const afterResume = scene.slice(scene.indexOf('⏵ resumed'), scene.indexOf('requests '));
    expect(afterResume).toMatch(/^⏵ resumed after the last event received; the text goes on after "….{1,20}":\n/u);
    expect(afterResume).not.toContain('A restart asks the model');
  });

  it('labels scene 1 as it labels scene 2', () => {
    expect(demo.stdout.split('\n')[0]).toBe('Scene 1: one answer through a mid-character drop, a 429 and a stall.');
  });
});
