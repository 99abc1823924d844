import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expectedOutput, startMockChatServer, type MockChatServer, type MockScenario } from '../src/testing';
import { ensureBuilt, ROOT } from './support/ensureBuilt';
import { redisServerAvailable, startRedisServer, type RedisServer } from './support/redisServer';
import { runScript } from './support/runScript';
import { startRelayProcess } from './support/startRelayProcess';

const CHROMIUM = process.env['CHROMIUM_PATH'] || '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  // Said once, in the run's normal output, so "1 skipped" never goes unexplained.
  console.warn(`The browser relay check is skipped: no Chromium at ${CHROMIUM}. Install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH.`);
}
const hasRedis = redisServerAvailable('browser relay spec');
const runnable = hasChromium && hasRedis;
const reason = hasChromium ? 'no redis-server' : `no Chromium at ${CHROMIUM}; install chromium or set CHROMIUM_PATH`;

describe('the browser client against two relay instances sharing one redis-server (Chromium)', () => {
  let redis: RedisServer | undefined;
  let provider: MockChatServer | undefined;
  const relays: ChildProcess[] = [];
  const scenario: MockScenario = { tokenSize: 4, paceMs: 15 };

  beforeAll(async () => {
    if (!runnable) return;
    ensureBuilt();
    redis = await startRedisServer();
    provider = await startMockChatServer({ script: () => scenario });
  }, 120_000);
  afterAll(async () => {
    for (const child of relays) child.kill('SIGTERM');
    await provider?.close();
    await redis?.stop();
  });

  const title = 'fromServerSentEvents in the page, cut on A mid-answer, resumes on B with Last-Event-ID: exact text, one generation';
  (runnable ? it : it.skip)(runnable ? title : `${title} [SKIPPED: ${reason}]`, async () => {
    const env = { REDIS_URL: redis!.url, PROVIDER_URL: `${provider!.url}/v1`, KEY_PREFIX: 'browser:', CORS_ORIGIN: '*' };
    const a = await startRelayProcess({ ...env, CUT_AFTER: '6' });
    const b = await startRelayProcess(env);
    relays.push(a.child, b.child);
    const stream = 'browser-answer';

    const run = await runScript(join(ROOT, 'spec', 'support', 'relayBrowserPage.mjs'), ['--chromium', CHROMIUM, '--a', a.url, '--b', b.url, '--stream', stream], { limitMs: 90_000 });
    const outcome = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { content?: string; connections?: number; retries?: string[]; error?: string };

    expect({ code: run.code, error: outcome.error, stderr: run.stderr }).toEqual({ code: 0, error: undefined, stderr: '' });
    expect(outcome.content).toBe(expectedOutput(scenario).content[0]);
    expect(outcome).toMatchObject({ connections: 2, retries: ['NetworkError'] });
    expect(provider!.requests.filter((request) => request.path === '/v1/chat/completions')).toHaveLength(1);
    expect(a.requests()).toEqual([`POST /chat/${stream} -`]);
    expect(b.requests()).toHaveLength(1);
    expect(b.requests()[0]).toMatch(new RegExp(`^POST /chat/${stream} \\S+$`));
    expect(b.requests()[0]).not.toMatch(/ -$/);
  }, 120_000);
});
