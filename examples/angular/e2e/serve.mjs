// Serves the built app (dist/) and forwards /v1/* to the library's fault-injecting
// mock server, all on 127.0.0.1: the same-origin set-up an Angular app has behind
// its backend or the dev server's proxy. `npm start` runs it; e2e.mjs imports it.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startMockChatServer } from 'rxjs-llm-stream/testing';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.txt': 'text/plain' };

export const ANSWER =
  'Streams deliver an answer piece by piece. This one came through Angular’s HttpClient, ' +
  'its interceptor added the token, and rxjs-llm-stream kept every character exactly once — ' +
  'even when the connection broke half-way.';

/** The trip form's structured answer: the mock server streams it as JSON text, slowly, so the form fills in visibly. */
export const TRIP = {
  destination: 'Lisbon',
  country: 'Portugal',
  days: 4,
  season: 'late spring, when the jacarandas bloom',
  highlight: 'the tram up to the Alfama at sunset',
};
const TRIP_ANSWER = { text: JSON.stringify(TRIP), tokenSize: 3, paceMs: 80 };

/**
 * The scenario of each request, chosen by keywords in the question, so a person
 * (or the e2e test) can ask for a fault: "drop" cuts the first attempt mid-line
 * and mid-character, "429" answers the first attempt with a rate limit and
 * Retry-After: 2 (longer than the client's own 1 s backoff, so the test can tell
 * that the header survived HttpClient), "slow" streams slowly. Later attempts of a question stream normally.
 */
export function scenarioFor(question, attempt) {
  const normal = { text: ANSWER, tokenSize: 3, paceMs: question.includes('slow') ? 250 : 40 };
  if (attempt > 1) return normal;
  if (question.includes('drop')) return { ...normal, fault: { kind: 'drop', afterChunks: 20, atByte: 9 } };
  if (question.includes('429')) return { ...normal, fault: { kind: 'status', status: 429, retryAfter: 2 } };
  return normal;
}

/**
 * `relayURL`: where examples/nestjs-relay runs; `/chat/*` goes there (the relay page).
 * `cutAfterEvents`: the first `GET /chat/:id` of each id is cut after this many SSE
 * events (the browser sees a broken stream); the relay page's reconnect is not.
 */
export async function startExample({ port = 0, apiKey = 'demo-token', relayURL, cutAfterEvents = 0 } = {}) {
  const relayReads = [];
  const relay = relayURL ? new URL(relayURL) : undefined;
  const attempts = new Map();
  const mock = await startMockChatServer({
    apiKey,
    script: (_index, request) => {
      // The trip form asks for JSON (response_format); everything else gets the text answer.
      if (request.body?.response_format?.type === 'json_schema') return TRIP_ANSWER;
      const question = String(request.body?.messages?.at(-1)?.content ?? '');
      attempts.set(question, (attempts.get(question) ?? 0) + 1);
      return scenarioFor(question, attempts.get(question));
    },
  });
  const upstream = new URL(mock.url);
  const sockets = new Set();

  const server = createServer((req, res) => {
    if (req.url.startsWith('/v1/')) return forward(req, res, upstream);
    if (relay && req.url.startsWith('/chat/')) {
      if (req.method !== 'GET') return forward(req, res, relay);
      const read = { path: req.url, lastEventId: req.headers['last-event-id'], cut: false };
      const first = !relayReads.some((earlier) => earlier.path === req.url);
      relayReads.push(read);
      return forward(req, res, relay, first && cutAfterEvents > 0 ? { afterEvents: cutAfterEvents, read } : undefined);
    }
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    let file = join(DIST, path);
    if (!file.startsWith(DIST) || !existsSync(file) || statSync(file).isDirectory()) file = join(DIST, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    createReadStream(file).pipe(res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    mock,
    /** The relay page's GETs: path, the Last-Event-ID they sent, whether this server cut them. */
    relayReads,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
      await mock.close();
    },
  };
}

/**
 * Streams one request to the mock server (or the relay) and its answer back; a broken
 * side breaks the other. With `cut`, the answer is cut after `cut.afterEvents` SSE events
 * and half of the next one, as a network failure would.
 */
function forward(req, res, upstream, cut) {
  let events = 0;
  const outgoing = httpRequest(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.on('data', (chunk) => {
        if (cut && !cut.read.cut && (events += String(chunk).split('\n\n').length - 1) >= cut.afterEvents) {
          cut.read.cut = true;
          res.write(chunk);
          res.write('data: {"half');
          res.destroy();
          outgoing.destroy();
          return;
        }
        res.write(chunk);
      });
      answer.on('end', () => res.end());
      // The mock server dropped the connection: drop ours too, so the browser sees a broken stream.
      answer.on('aborted', () => res.destroy());
      answer.on('error', () => res.destroy());
    },
  );
  outgoing.on('error', () => res.destroy());
  // The browser went away (Stop, a new question): close the upstream request too.
  res.on('close', () => {
    if (!res.writableFinished) outgoing.destroy();
  });
  req.pipe(outgoing);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const example = await startExample({ port: Number(process.env.PORT ?? 4200) });
  console.log(`Angular example on ${example.url}  (mock API key: demo-token)`);
  console.log('Put "drop", "429" or "slow" in a question to have the mock server break the first attempt; the trip form gets a JSON answer. Ctrl+C stops.');
  process.once('SIGINT', () => example.close().then(() => process.exit(0)));
}
