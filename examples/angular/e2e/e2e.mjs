// End-to-end test of the Angular example in headless Chromium: builds nothing
// (run `ng build` first, as `npm run e2e` does), starts the mock server and a
// static server on 127.0.0.1, drives the page, saves a screenshot, stops
// everything, and exits non-zero when a check fails.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { expectedOutput, startMockChatServer } from 'rxjs-llm-stream/testing';
import { ANSWER, scenarioFor, startExample, TRIP } from './serve.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SCREENSHOT = process.env.SCREENSHOT ?? join(ROOT, 'docs', 'angular-example.png');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TOTAL_TIMEOUT_MS = 120_000;
const expected = expectedOutput(scenarioFor('', 2)).content[0];

const watchdog = setTimeout(() => {
  console.error(`e2e: still running after ${TOTAL_TIMEOUT_MS / 1000} s, giving up.`);
  process.exit(2);
}, TOTAL_TIMEOUT_MS);
watchdog.unref();

const results = [];
async function check(name, run) {
  const started = Date.now();
  try {
    await run();
    results.push(true);
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    results.push(false);
    console.log(`FAIL ${name}\n     ${error instanceof Error ? error.stack : error}`);
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(condition, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * examples/nestjs-relay, built and started on 127.0.0.1 against its own mock provider,
 * for the relay page. Its dependencies come from `npm --prefix examples/nestjs-relay ci`.
 */
const NEST = join(ROOT, 'examples', 'nestjs-relay');
const relayScenario = { tokenSize: 3, paceMs: 60 };
async function startRelayBackend() {
  if (!existsSync(join(NEST, 'node_modules', '@nestjs', 'core'))) throw new Error('examples/nestjs-relay has no node_modules: run `npm --prefix examples/nestjs-relay ci` first');
  execFileSync(process.execPath, [join(NEST, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(NEST, 'tsconfig.json')], { stdio: 'inherit' });
  const provider = await startMockChatServer({ apiKey: 'provider-key', scenario: relayScenario });
  const child = spawn(process.execPath, [join(NEST, 'dist', 'main.js')], {
    env: { ...process.env, PORT: '0', PROVIDER_URL: `${provider.url}/v1`, PROVIDER_API_KEY: 'provider-key', MODEL: 'mock-model' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (piece) => {
      out += piece;
      const port = /listening (\d+)/.exec(out)?.[1];
      if (port) resolve(`http://127.0.0.1:${port}`);
    });
    child.once('exit', (code) => reject(new Error(`the NestJS app exited with ${code}`)));
  });
  return {
    url,
    provider,
    async close() {
      child.kill('SIGKILL');
      await provider.close();
    },
  };
}

const backend = await startRelayBackend();
const example = await startExample({ apiKey: 'demo-token', relayURL: backend.url, cutAfterEvents: 8 });
const requestsFor = (question) => example.mock.requests.filter((r) => r.body?.messages?.at(-1)?.content === question);
let browser;
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error));
  await page.goto(example.url);
  await page.waitForSelector('.status[data-status="idle"]', { timeout: 15_000 });

  const ask = async (question) => {
    await page.fill('input[name="question"]', question);
    await page.click('button[type="submit"]');
  };
  const answer = () => page.textContent('.answer').then((text) => (text ?? '').trim());
  const status = () => page.getAttribute('.status', 'data-status');
  const waitForStatus = (value, timeout = 15_000) => page.waitForSelector(`.status[data-status="${value}"]`, { timeout });

  await check('the text appears progressively and ends exact; the interceptor sent the token', async () => {
    const question = 'Tell me about streams.';
    const seen = [];
    await ask(question);
    await until(async () => {
      const text = await answer();
      if (text !== seen.at(-1)) seen.push(text);
      return (await status()) === 'done';
    }, 'the answer to finish');
    const final = await answer();
    assert(final === expected.trim(), `final text differs:\n  got      ${JSON.stringify(final)}\n  expected ${JSON.stringify(expected)}`);
    const partial = seen.filter((text) => text !== '' && text !== final);
    assert(partial.length >= 5, `expected at least 5 partial texts, saw ${partial.length}`);
    assert(partial.every((text) => expected.startsWith(text)), 'a partial text is not a prefix of the answer');
    const [request, ...more] = requestsFor(question);
    assert(request && more.length === 0, `expected exactly one request, got ${requestsFor(question).length}`);
    assert(request.headers.authorization === 'Bearer demo-token', 'the auth interceptor did not add the token');
    assert(request.body.stream === true, 'the request body lacks stream: true');
  });

  await check('a mid-stream drop shows a retry and ends with the exact full text', async () => {
    const question = 'Tell me about streams, and drop the connection once.';
    await ask(question);
    await waitForStatus('retrying');
    const retrying = await page.textContent('.status');
    assert(/retrying in 1\.0 s \(attempt 2 of 4\)/.test(retrying ?? ''), `unexpected retry status: ${retrying}`);
    await waitForStatus('done');
    assert((await answer()) === expected.trim(), `final text after the retry differs: ${JSON.stringify(await answer())}`);
    assert((await page.textContent('.status'))?.includes('Done after 2 attempts'), 'the status does not say 2 attempts');
    const log = await page.$$eval('.log li', (items) => items.map((item) => item.textContent ?? ''));
    assert(log.some((line) => line.startsWith('retrying in 1.0 s after: NetworkError')), `no NetworkError retry in the log: ${log.join(' | ')}`);
    const [first, second, ...rest] = requestsFor(question);
    assert(first && second && rest.length === 0, `expected 2 requests, got ${requestsFor(question).length}`);
    // The interceptor ran again for the retry: the token, and a new request number.
    assert(second.headers.authorization === 'Bearer demo-token', 'the retry lacks the token');
    assert(Number(second.headers['x-client-attempt']) > Number(first.headers['x-client-attempt']), 'the retry did not go through the interceptor again');
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  await check('a 429 with Retry-After: 2 waits 2 s through HttpClient, then ends exact', async () => {
    const question = 'Tell me about streams after a 429.';
    await ask(question);
    await waitForStatus('retrying');
    const retrying = (await page.textContent('.status')) ?? '';
    // The client's own backoff is 1.0 s without jitter; 2.0 s can only come from the header.
    assert(/retrying in 2\.0 s/.test(retrying), `Retry-After did not reach the retry: ${retrying}`);
    const log = await page.$$eval('.log li', (items) => items.map((item) => item.textContent ?? ''));
    assert(log.some((line) => /^retrying in 2\.0 s after: HttpError: .*429/.test(line)), `no 429 retry in the log: ${log.join(' | ')}`);
    await waitForStatus('done');
    assert((await answer()) === expected.trim(), `final text after the 429 differs: ${JSON.stringify(await answer())}`);
    assert(requestsFor(question).length === 2, `expected 2 requests, got ${requestsFor(question).length}`);
  });

  await check('Stop closes the connection and keeps the text so far', async () => {
    const question = 'Tell me slowly about streams.';
    await ask(question);
    // The page renders asynchronously: until this answer's status shows, the text on screen may be the last answer's.
    await waitForStatus('streaming');
    await until(async () => (await answer()).length >= 12, 'some text');
    await page.click('button:has-text("Stop")');
    await waitForStatus('stopped', 5_000);
    await until(() => requestsFor(question)[0]?.closedByClient === true, 'the server to see the connection close', 5_000);
    const kept = await answer();
    assert(kept.length >= 12 && kept.length < expected.trim().length && expected.startsWith(kept), `unexpected kept text: ${JSON.stringify(kept)}`);
    await sleep(600);
    assert((await answer()) === kept, 'the text changed after Stop');
    assert(requestsFor(question).length === 1, 'Stop started another request');
  });

  await check('the trip form fills in field by field while the JSON answer streams, and ends exact', async () => {
    const request = 'Four days somewhere sunny in spring.';
    const names = Object.keys(TRIP);
    const final = names.map((name) => String(TRIP[name]));
    // A recorder in the page writes down every state of the form (status and field values)
    // as it renders, so what the test sees does not depend on how fast it polls.
    await page.evaluate((names) => {
      const read = () => ({
        status: document.querySelector('.trip-status')?.getAttribute('data-status') ?? '',
        values: names.map((name) => document.querySelector(`.trip input[name="${name}"]`)?.value ?? ''),
      });
      const seen = (window.tripStates = [read()]);
      const started = Date.now();
      const timer = setInterval(() => {
        const now = read();
        if (JSON.stringify(now) !== JSON.stringify(seen.at(-1))) seen.push(now);
        if (['done', 'failed', 'stopped'].includes(now.status) || Date.now() - started > 60_000) clearInterval(timer);
      }, 2);
    }, names);
    await page.fill('input[name="trip-request"]', request);
    await page.click('.trip button[type="submit"]');
    await page.waitForSelector('.trip-status[data-status="done"]', { timeout: 30_000 });
    const states = await page.evaluate(() => window.tripStates);
    const filled = (state) => state.values.filter((value) => value !== '').length;

    const values = await page.$$eval('.trip .fields input', (inputs) => inputs.map((input) => input.value));
    assert(JSON.stringify(values) === JSON.stringify(final), `final fields differ:\n  got      ${JSON.stringify(values)}\n  expected ${JSON.stringify(final)}`);
    assert(/Done: 5 of 5 fields, checked against the schema/.test((await page.textContent('.trip-status')) ?? ''), 'the status does not say the schema accepted the answer');
    const streaming = states.filter((state) => state.status === 'streaming');
    assert(
      streaming.some((state) => filled(state) >= 1 && filled(state) < names.length),
      `no state while streaming with a field filled and another empty: ${JSON.stringify(states)}`,
    );
    // One by one: while streaming, the form showed 1, 2, 3, 4 and 5 filled fields, each time the first ones in order.
    const counts = new Set(streaming.map(filled));
    assert([1, 2, 3, 4, 5].every((count) => counts.has(count)), `fields did not appear one by one; filled counts seen while streaming: ${[...counts].sort()}`);
    for (const state of states) {
      const n = filled(state);
      assert(state.values.slice(n).every((value) => value === ''), `a field filled before an earlier one: ${JSON.stringify(state.values)}`);
      assert(state.values.every((value, i) => final[i].startsWith(value)), `a field showed a value that is not the start of its final value: ${JSON.stringify(state.values)}`);
      assert(state.values[2] === '' || state.values[2] === '4', `the number showed before it was complete: ${state.values[2]}`);
    }
    const sent = example.mock.requests.filter((r) => r.body?.messages?.at(-1)?.content === request);
    assert(sent.length === 1, `expected exactly one request, got ${sent.length}`);
    assert(sent[0].body.response_format?.json_schema?.name === 'trip', 'the request lacks the response_format');
    assert(sent[0].headers.authorization === 'Bearer demo-token', 'the interceptor did not add the token to the structured request');
    console.log(`     ${states.length} form states recorded, ${streaming.length} of them while streaming`);
  });

  await check('a 401 shows a clear error and is not retried', async () => {
    const question = 'Hello with a wrong token.';
    // The mock server refuses a wrong key before reading the body, so count the requests from here on.
    const before = example.mock.requests.length;
    const sent = () => example.mock.requests.slice(before);
    await page.fill('input[name="token"]', 'wrong-token');
    await ask(question);
    await waitForStatus('failed');
    const error = (await page.textContent('[role="alert"]')) ?? '';
    assert(/HttpError: .*HTTP 401/.test(error), `unexpected error text: ${error}`);
    assert(error.includes('Check the API key'), `the error gives no hint: ${error}`);
    assert(!error.includes('wrong-token'), 'the error shows the token');
    await sleep(1_500);
    assert(sent().length === 1, `a 401 was retried: ${sent().length} requests`);
    assert(sent()[0].headers.authorization === 'Bearer wrong-token', 'the request did not carry the wrong token');
  });

  await check('the relay page (/relay, examples/nestjs-relay behind it): a cut connection resumes with Last-Event-ID; the text goes on, one generation', async () => {
    await page.goto(`${example.url}/relay`);
    await page.waitForSelector('.status[data-status="idle"]', { timeout: 15_000 });
    // A recorder in the page notes every text the answer shows, so a text that starts over would be seen.
    await page.evaluate(() => {
      const seen = (window.relayTexts = ['']);
      const started = Date.now();
      const timer = setInterval(() => {
        const now = document.querySelector('.answer')?.textContent ?? '';
        if (now !== seen.at(-1)) seen.push(now);
        const status = document.querySelector('.status')?.getAttribute('data-status');
        if (['done', 'failed', 'stopped'].includes(status) || Date.now() - started > 60_000) clearInterval(timer);
      }, 2);
    });
    await page.fill('input[name="question"]', 'Tell me about relays.');
    await page.click('button[type="submit"]');
    await page.waitForSelector('.status[data-status="done"], .status[data-status="failed"]', { timeout: 60_000 });
    const log = await page.$$eval('.log li', (items) => items.map((item) => item.textContent ?? ''));
    const relayed = expectedOutput(relayScenario).content[0];
    const final = await answer();
    assert(final === relayed.trim(), `final text differs:\n  got      ${JSON.stringify(final)}\n  expected ${JSON.stringify(relayed)}\n  log: ${log.join(' | ')}`);
    const [cut, resumed, ...more] = example.relayReads;
    assert(cut?.cut === true && cut.lastEventId === undefined, `the first read was not cut: ${JSON.stringify(example.relayReads)}`);
    assert(resumed && typeof resumed.lastEventId === 'string' && resumed.lastEventId !== '' && more.length === 0, `the reconnect did not send Last-Event-ID once: ${JSON.stringify(example.relayReads)}`);
    assert(log.some((line) => line.startsWith('retrying after: NetworkError')), `no NetworkError retry in the log: ${log.join(' | ')}`);
    const texts = await page.evaluate(() => window.relayTexts);
    assert(texts.every((text, i) => relayed.startsWith(text.trim()) && (i === 0 || text.length >= texts[i - 1].length)), `the text started over or showed something else: ${JSON.stringify(texts)}`);
    const generations = backend.provider.requests.filter((request) => request.path === '/v1/chat/completions');
    assert(generations.length === 1, `the provider saw ${generations.length} requests: the answer was generated again`);
    console.log(`     ${texts.length} texts recorded; reconnected after id ${resumed.lastEventId}`);
  });

  await check('no uncaught errors in the page', async () => {
    assert(pageErrors.length === 0, pageErrors.map(String).join('\n'));
  });
} catch (error) {
  results.push(false);
  console.log(`FAIL setup\n     ${error instanceof Error ? error.stack : error}`);
} finally {
  await browser?.close();
  await example.close();
  await backend.close();
}
const passed = results.filter(Boolean).length;
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exitCode = passed === results.length && results.length > 0 ? 0 : 1;
