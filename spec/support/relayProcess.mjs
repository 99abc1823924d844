// One relay instance, as a separate process, for the multi-instance and fault
// specs. Its routes are the ones docs/backend.md shows ("The routes"): POST
// /chat/:id starts the provider stream into the relay (or, for an id it
// already runs, resumes it) and streams it; GET /chat/:id resumes from
// Last-Event-ID; the `x-user` header stands in for the app's authentication.
//
// Environment:
// - REDIS_URL: the shared store (redisRelayStore); without it, a memory store.
//   REDIS_CLIENT=redis (node-redis 5, default), redis4, redis6, ioredis or ioredis6. KEY_PREFIX.
// - PROVIDER_URL: the OpenAI-compatible base URL (the mock's `${url}/v1`).
//   PROVIDER=chat (fromChatCompletion, default) or responses (fromResponses in
//   background mode: its resume point is the response id, so a takeover
//   replays the stored response without generating it again).
// - LEASE_MS, HEARTBEAT, TTL, TTL_AFTER_END, ABANDON_AFTER, DRAIN_MS (SIGTERM's close), MAX_BUFFERED_BYTES.
// - CUT_AFTER=N: every response breaks off (socket destroyed) after N events.
// - CORS_ORIGIN: answers that origin's requests and preflights.
// Prints "listening PORT", "request METHOD PATH LAST-EVENT-ID" per request,
// "activity JSON" per relay activity, and "closed" once SIGTERM's close is done.
import { createServer } from 'node:http';
import { concat, NEVER, take, tap } from 'rxjs';
import { fromChatCompletion, fromResponses, retryWithBackoff, untilDone } from '../../dist/esm/index.js';
import { createRelay, isRelayStreamId, memoryRelayStore, RelayBusyError, writeServerSentEvents } from '../../dist/esm/server/index.js';

const env = process.env;
const number = (name, fallback) => (env[name] === undefined ? fallback : Number(env[name]));

async function makeStore() {
  if (!env.REDIS_URL) return { store: memoryRelayStore(), close: async () => undefined };
  const { redisRelayStore } = await import('../../dist/esm/server/index.js');
  // The package each REDIS_CLIENT names (the dev dependencies' npm aliases): node-redis 4, 5 (`redis`), 6; ioredis 5, 6.
  const wanted = (env.REDIS_CLIENT ?? 'redis').toLowerCase();
  if (wanted.includes('ioredis')) {
    const { default: Redis } = await import(wanted.includes('ioredis6') ? 'ioredis6' : 'ioredis');
    const client = new Redis(env.REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: true });
    client.on('error', () => undefined);
    await client.connect();
    return { store: redisRelayStore(client, { keyPrefix: env.KEY_PREFIX, blockMs: 500 }), close: async () => client.disconnect() };
  }
  const { createClient } = await import(wanted.includes('redis6') ? 'redis6' : wanted.includes('redis4') ? 'redis4' : 'redis');
  const client = createClient({ url: env.REDIS_URL });
  client.on('error', () => undefined);
  await client.connect();
  return { store: redisRelayStore(client, { keyPrefix: env.KEY_PREFIX, blockMs: 500 }), close: async () => client.destroy() };
}

const { store, close: closeStore } = await makeStore();
const relay = createRelay({
  store,
  leaseMs: number('LEASE_MS', 10_000),
  heartbeat: number('HEARTBEAT', 0),
  ttl: number('TTL', 600_000),
  ttlAfterEnd: number('TTL_AFTER_END', 60_000),
  abandonAfter: number('ABANDON_AFTER', 30_000),
  maxBufferedBytes: number('MAX_BUFFERED_BYTES', 1024 * 1024),
  onActivity: (activity) => {
    if (activity.type === 'storeError') process.stdout.write(`activity ${JSON.stringify({ type: activity.type, operation: activity.operation, name: activity.error?.name })}\n`);
    else if (activity.type !== 'appended') process.stdout.write(`activity ${JSON.stringify(activity)}\n`);
  },
});

/** The provider stream of one POST body; `resume` is the resume point a takeover found in the log. */
function providerStream(chat, resume) {
  if (env.PROVIDER === 'responses') {
    return fromResponses({
      baseURL: env.PROVIDER_URL,
      body: { model: chat.model, input: chat.messages?.at(-1)?.content ?? '', background: true, store: true },
      cancelOnUnsubscribe: false,
      resumeFrom: resume === undefined ? undefined : { id: resume },
    }).pipe(untilDone(), retryWithBackoff({ initialDelay: 10 }));
  }
  return fromChatCompletion({ baseURL: env.PROVIDER_URL, body: chat }).pipe(untilDone(), retryWithBackoff({ initialDelay: 10 }));
}

const cutAfter = number('CUT_AFTER', Infinity);
const corsOrigin = env.CORS_ORIGIN;

/** The frames of one response, broken off after CUT_AFTER events when set. */
function cut(frames, response) {
  if (cutAfter === Infinity) return frames;
  let sent = 0;
  const breakOff = () => setTimeout(() => response.destroy(), 50);
  return concat(frames.pipe(take(cutAfter), tap(() => ++sent === cutAfter && breakOff())), NEVER);
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    let body = '';
    request.on('data', (piece) => (body += piece));
    request.on('end', () => resolve(body));
    request.on('error', reject);
  });
}

// The routes (docs/backend.md, "The routes", in TypeScript).
const server = createServer(async (request, response) => {
  if (corsOrigin) {
    response.setHeader('access-control-allow-origin', corsOrigin);
    if (request.method === 'OPTIONS') {
      response.writeHead(204, { 'access-control-allow-methods': 'GET, POST', 'access-control-allow-headers': 'content-type, last-event-id, x-user' }).end();
      return;
    }
  }
  const lastEventId = request.headers['last-event-id'];
  process.stdout.write(`request ${request.method} ${request.url} ${lastEventId === undefined ? '-' : JSON.stringify(lastEventId).slice(1, -1).slice(0, 200)}\n`);
  try {
    const id = decodeURIComponent(request.url?.split('?')[0]?.split('/').pop() ?? '');
    if (!isRelayStreamId(id)) return void response.writeHead(400).end();
    // Authentication goes here: the app's session says who asks. The tests send x-user.
    const owner = typeof request.headers['x-user'] === 'string' ? request.headers['x-user'] : undefined;
    if (request.method === 'POST') {
      const chat = JSON.parse(await readBody(request));
      // A Responses background response can be resumed by another instance: its id is the resume point.
      const resumePoint = env.PROVIDER === 'responses' ? (chunk) => chunk.id || undefined : undefined;
      const started = await relay.start(id, (resume) => providerStream(chat, resume), { owner, resumePoint });
      // Not started: it runs elsewhere (resume it), it ended (replay it), or it is someone else's (409).
      if (!started && !(await relay.has(id, { owner }))) return void response.writeHead(409).end();
    } else if (!(await relay.has(id, { owner }))) {
      return void response.writeHead(204).end();
    }
    writeServerSentEvents(response, cut(relay.frames(id, typeof lastEventId === 'string' ? lastEventId : undefined, { owner }), response));
  } catch (error) {
    if (response.headersSent) return void response.destroy();
    if (error instanceof RelayBusyError) return void response.writeHead(503, { 'retry-after': '1' }).end();
    response.writeHead(error instanceof SyntaxError ? 400 : 500).end();
  }
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));

// Shutdown (docs/backend.md, "Shutting down"): stop taking connections, hand the streams over, exit.
process.once('SIGTERM', async () => {
  server.close();
  await relay.close({ drainMs: number('DRAIN_MS', 0) });
  await closeStore();
  process.stdout.write('closed\n');
  process.exit(0);
});
