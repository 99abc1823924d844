// The browser redirect check: in Chromium, a source whose server answers 307
// to ANOTHER origin must not send its key header (x-api-key, x-goog-api-key)
// there, and must not send the request twice to the first origin: a browser
// hides the redirect's target from scripts (`opaqueredirect`), and the only
// way to follow it would be to hand the whole request, credentials included,
// to the browser's own redirect handling.
//
//   npm run build
//   node examples/browser/redirectCheck.mjs [--chromium /usr/bin/chromium]
//
// Exits 0 when every check passes, 1 otherwise; gives up after 60 s.
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { bundlePageScript } from './bundlePageScript.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const KEY = 'sk-redirect-check-not-a-real-key';
const { values: args } = parseArgs({
  options: { chromium: { type: 'string', default: process.env.CHROMIUM_PATH || '/usr/bin/chromium' } },
});

const failures = [];
function check(ok, what, detail = '') {
  process.stdout.write(`${ok ? '✔' : '✘'} ${what}${ok || !detail ? '' : `\n    ${detail}`}\n`);
  if (!ok) failures.push(what);
}

/** The page's script: each source against the redirecting origin, reporting how it ended. */
const PAGE_SCRIPT = `
import { lastValueFrom, toArray } from 'rxjs';
import { fromAnthropicMessages, fromGeminiContent } from 'rxjs-llm-stream';
const outcome = (source) => lastValueFrom(source.pipe(toArray())).then(
  (events) => ({ ended: 'complete', events: events.length }),
  (error) => ({ ended: 'error', name: error.name, status: error.status, retryable: error.retryable, message: error.message }),
);
window.redirectCheck = async (front, apiKey) => ({
  anthropic: await outcome(fromAnthropicMessages({ baseURL: front, apiKey, body: { model: 'm', max_tokens: 5, messages: [] } })),
  gemini: await outcome(fromGeminiContent({ baseURL: front, apiKey, model: 'm', body: { contents: [] } })),
});
`;

/** A loopback server recording every request; CORS allows the page (and echoes the requested headers). */
async function recordingServer(answer) {
  const requests = [];
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      requests.push({ method: request.method, path: request.url, headers: request.headers });
      const cors = {
        'access-control-allow-origin': request.headers.origin ?? '*',
        'access-control-allow-methods': 'POST, GET, OPTIONS',
        'access-control-allow-headers': request.headers['access-control-request-headers'] ?? '*',
        'access-control-expose-headers': 'location',
      };
      if (request.method === 'OPTIONS') response.writeHead(204, cors).end();
      else answer(request, response, cors);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, requests, url: `http://127.0.0.1:${server.address().port}` };
}

const deadline = setTimeout(() => {
  process.stdout.write('✘ gave up after 60 s\n');
  process.exit(1);
}, 60_000);
deadline.unref();

const servers = [];
let browser;
try {
  const script = await bundlePageScript(PAGE_SCRIPT, ROOT);

  // Origin B: where the redirect leads. It would answer, and CORS would let the page read it.
  const target = await recordingServer((_request, response, cors) => {
    response.writeHead(200, { ...cors, 'content-type': 'text/event-stream' }).end('data: {"type":"message_stop"}\n\n');
  });
  // Origin A: the configured base URL, answering every POST with a 307 to B.
  const front = await recordingServer((request, response, cors) => {
    response.writeHead(307, { ...cors, location: `${target.url}${request.url}` }).end();
  });
  // The page's own origin.
  const site = await recordingServer((request, response) => {
    if (request.url === '/main.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>redirect check</title><script type="module" src="/main.js"></script>');
  });
  servers.push(target, front, site);

  browser = await chromium.launch({ executablePath: args.chromium, headless: true });
  const page = await browser.newPage();
  await page.goto(site.url);
  await page.waitForFunction(() => typeof window.redirectCheck === 'function', undefined, { timeout: 20_000 });
  const result = await page.evaluate(([url, key]) => window.redirectCheck(url, key), [front.url, KEY]);

  for (const [name, outcome] of Object.entries(result)) {
    check(
      outcome.ended === 'error' && outcome.name === 'HttpError' && outcome.retryable === false,
      `${name}: the hidden cross-origin redirect is a non-retryable HttpError`,
      JSON.stringify(outcome),
    );
    check(!String(outcome.message).includes(KEY), `${name}: the error does not contain the key`);
  }
  const posts = front.requests.filter((request) => request.method === 'POST');
  check(posts.length === 2, `the first origin saw each POST once (2 POSTs), got ${posts.length}`);
  const leaked = target.requests.filter((request) => JSON.stringify(request.headers).includes(KEY));
  check(leaked.length === 0, 'no x-api-key or x-goog-api-key reached the other origin', JSON.stringify(leaked.map((request) => request.headers)));
  check(
    target.requests.every((request) => request.method !== 'POST'),
    'the other origin got no POST at all',
    JSON.stringify(target.requests.map((request) => request.method)),
  );
} catch (error) {
  check(false, 'the check ran to the end', error instanceof Error ? `${error.name}: ${error.message}` : String(error));
} finally {
  await browser?.close();
  for (const { server } of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  clearTimeout(deadline);
}
process.stdout.write(failures.length === 0 ? 'redirect check passed\n' : `redirect check FAILED (${failures.length})\n`);
process.exitCode = failures.length === 0 ? 0 : 1;
