// The browser half of the two-instance relay test: bundles a page (esbuild)
// whose script streams one answer with fromServerSentEvents +
// parseRelayedChunks + untilDone + retryWithBackoff + accumulateContent, the
// first connection to relay A, every later one to relay B, opens it in
// Chromium and prints the outcome as one JSON line.
//
//   node spec/support/relayBrowserPage.mjs --chromium PATH --a URL --b URL --stream ID
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { bundlePageScript } from '../../examples/browser/bundlePageScript.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: args } = parseArgs({
  options: { chromium: { type: 'string' }, a: { type: 'string' }, b: { type: 'string' }, stream: { type: 'string' } },
});

const PAGE_SCRIPT = `
import { lastValueFrom } from 'rxjs';
import { accumulateContent, fromServerSentEvents, parseRelayedChunks, retryWithBackoff, untilDone } from 'rxjs-llm-stream';
window.relayCheck = async (a, b, streamId) => {
  let connections = 0;
  const retries = [];
  const events = fromServerSentEvents({
    url: () => (connections++ === 0 ? a : b) + '/chat/' + streamId,
    body: { model: 'mock-model', messages: [{ role: 'user', content: 'Hello' }] },
  });
  try {
    const snapshot = await lastValueFrom(events.pipe(
      parseRelayedChunks(),
      untilDone(),
      retryWithBackoff({ initialDelay: 10, jitter: 'none', maxRetries: 3, onRetry: ({ error }) => retries.push(error.name) }),
      accumulateContent(),
    ));
    return { content: snapshot.content, connections, retries };
  } catch (error) {
    return { error: error.name + ': ' + error.message, connections, retries };
  }
};
`;

const deadline = setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ error: 'gave up after 60 s' })}\n`);
  process.exit(1);
}, 60_000);
deadline.unref();

let browser;
let site;
try {
  const script = await bundlePageScript(PAGE_SCRIPT, ROOT);
  site = createServer((request, response) => {
    if (request.url === '/main.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>relay check</title><script type="module" src="/main.js"></script>');
  });
  await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
  browser = await chromium.launch({ executablePath: args.chromium, headless: true });
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${site.address().port}/`);
  await page.waitForFunction(() => typeof window.relayCheck === 'function', undefined, { timeout: 20_000 });
  const outcome = await page.evaluate(([a, b, stream]) => window.relayCheck(a, b, stream), [args.a, args.b, args.stream]);
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })}\n`);
} finally {
  await browser?.close();
  site?.closeAllConnections();
  await new Promise((resolve) => (site ? site.close(resolve) : resolve()));
  clearTimeout(deadline);
}
