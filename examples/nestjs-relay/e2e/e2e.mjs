// End-to-end test of the NestJS relay: starts the library's mock provider and
// the built app (dist/main.js) on 127.0.0.1, then checks what a browser would
// see. Prints "N passed, N failed" and exits non-zero when a check fails.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createParser } from 'eventsource-parser';
import { from, lastValueFrom } from 'rxjs';
import { accumulateContent } from 'rxjs-llm-stream';
import { expectedOutput, startMockChatServer } from 'rxjs-llm-stream/testing';

const HERE = dirname(fileURLToPath(import.meta.url));
const scenario = { tokenSize: 3, paceMs: 15 };
const results = [];
const watchdog = setTimeout(() => {
  console.log('e2e: still running after 120 s, giving up.');
  process.exit(2);
}, 120_000);
watchdog.unref();

async function check(name, run) {
  try {
    await run();
    results.push(true);
    console.log(`ok   ${name}`);
  } catch (error) {
    results.push(false);
    console.log(`FAIL ${name}\n     ${error instanceof Error ? error.stack : error}`);
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function until(condition, message) {
  for (let waited = 0; !condition(); waited += 50) {
    if (waited > 20_000) throw new Error(message);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function startApp(env) {
  const child = spawn(process.execPath, [join(HERE, '..', 'dist', 'main.js')], { env: { ...process.env, ...env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (piece) => {
      out += piece;
      const port = /listening (\d+)/.exec(out)?.[1];
      if (port) resolve({ url: `http://127.0.0.1:${port}`, child, output: () => out });
    });
    child.once('exit', (code) => reject(new Error(`the app exited with ${code}`)));
  });
}

/** Reads the SSE events of `url` (stopping after `stopAfter`, which cuts the connection). */
async function readEvents(url, headers = {}, stopAfter = Infinity) {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const events = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  const decoder = new TextDecoder();
  try {
    for await (const piece of response.body ?? []) {
      parser.feed(decoder.decode(piece, { stream: true }));
      if (events.length >= stopAfter) break;
    }
  } finally {
    controller.abort();
  }
  return { status: response.status, type: response.headers.get('content-type'), events: events.slice(0, stopAfter) };
}

const chunksOf = (events) => events.filter((event) => event.event === undefined).map((event) => JSON.parse(event.data));

const provider = await startMockChatServer({ apiKey: 'provider-key', scenario });
const app = await startApp({ PROVIDER_URL: `${provider.url}/v1`, PROVIDER_API_KEY: 'provider-key', MODEL: 'mock-model' });
try {
  await check('a browser cut off mid-answer reconnects with Last-Event-ID and gets exactly the rest; one generation', async () => {
    const start = await fetch(`${app.url}/chat/a1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"question":"Hello"}' });
    assert(start.status === 202, `POST answered ${start.status}`);
    const first = await readEvents(`${app.url}/chat/a1`, {}, 8);
    assert(first.type?.startsWith('text/event-stream'), `content type ${first.type}`);
    assert(first.events.length === 8, `expected 8 events before the cut, got ${first.events.length}`);
    const rest = await readEvents(`${app.url}/chat/a1`, { 'last-event-id': first.events.at(-1).id });
    assert(rest.events.at(-1)?.event === 'done', 'the stream did not end with done');
    const ids = [...first.events, ...rest.events].map((event) => event.id);
    assert(new Set(ids).size === ids.length, 'an event arrived twice');
    const snapshot = await lastValueFrom(from(chunksOf([...first.events, ...rest.events])).pipe(accumulateContent()));
    const expected = expectedOutput(scenario).content[0];
    assert(snapshot.content === expected, `text differs:\n  got      ${JSON.stringify(snapshot.content)}\n  expected ${JSON.stringify(expected)}`);
    const generations = provider.requests.filter((request) => request.path === '/v1/chat/completions');
    assert(generations.length === 1, `the provider saw ${generations.length} requests`);
    assert(generations[0].headers.authorization === 'Bearer provider-key', 'the relay did not send the provider key');
  });

  await check('the ids are the relay’s own, not NestJS’s per-connection numbers', async () => {
    const replayed = await readEvents(`${app.url}/chat/a1`);
    const fourth = replayed.events[3]?.id;
    const again = await readEvents(`${app.url}/chat/a1`, { 'last-event-id': fourth });
    assert(!/^\d+$/.test(String(fourth)), `the id ${fourth} looks like NestJS's per-connection number`);
    assert(again.events[0]?.id === replayed.events[4]?.id, `after Last-Event-ID ${fourth} the first id is ${again.events[0]?.id}, not ${replayed.events[4]?.id}`);
    assert(replayed.events.length === again.events.length + 4, 'a replay from the start does not hold the 4 skipped events');
  });

  await check('an unknown answer id is a 404, not an empty stream', async () => {
    const response = await fetch(`${app.url}/chat/nope`);
    assert(response.status === 404, `answered ${response.status}`);
  });

  await check('starting the same id twice does not ask the provider twice', async () => {
    const before = provider.requests.length;
    const again = await fetch(`${app.url}/chat/a1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"question":"Hello"}' });
    assert((await again.json()).started === false, 'the second start was not refused');
    assert(provider.requests.length === before, 'the provider was asked again');
  });
  await check('SIGTERM (enableShutdownHooks) runs RelayModule’s hook: the relay closes (drain, hand over), the provider request is aborted, the process ends', async () => {
    const slow = await startMockChatServer({ apiKey: 'provider-key', scenario: { tokenSize: 1, paceMs: 200 } });
    const second = await startApp({ PROVIDER_URL: `${slow.url}/v1`, PROVIDER_API_KEY: 'provider-key', MODEL: 'mock-model' });
    try {
      const start = await fetch(`${second.url}/chat/long`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"question":"Hello"}' });
      assert(start.status === 202, `POST answered ${start.status}`);
      await readEvents(`${second.url}/chat/long`, {}, 2); // the provider is streaming
      const exited = new Promise((resolve) => second.child.once('exit', (code, signal) => resolve({ code, signal })));
      second.child.kill('SIGTERM');
      const outcome = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running after 30 s'), 30_000))]);
      // Nest runs the shutdown hooks, then raises the signal again: the process ends by SIGTERM after the hook.
      assert(outcome?.signal === 'SIGTERM' || outcome?.code === 0, `the app ended with ${JSON.stringify(outcome)}`);
      assert(second.output().includes('relay closed (SIGTERM)'), `the shutdown hook did not run: ${JSON.stringify(second.output())}`);
      await until(() => slow.requests[0]?.endedAt !== undefined, 'the provider request still runs after the shutdown');
      assert(slow.requests[0].closedByClient, 'the provider request was not aborted by the relay');
    } finally {
      second.child.kill('SIGKILL');
      await slow.close();
    }
  });
} finally {
  app.child.kill('SIGTERM');
  await provider.close();
}
const passed = results.filter(Boolean).length;
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exitCode = passed === results.length && results.length > 0 ? 0 : 1;
