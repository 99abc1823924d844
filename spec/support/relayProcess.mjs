// One relay instance, as a separate process, for the two-instance test: POST
// /chat/:id starts the provider stream (OpenAI-compatible, retried on the
// provider hop) into the relay and streams it; GET /chat/:id resumes from
// Last-Event-ID. The store is Redis (REDIS_URL). Prints "listening PORT", then
// "request METHOD PATH LAST-EVENT-ID" per request. CUT_AFTER=N: every response
// breaks off (socket destroyed) after N events, to test a client's reconnect.
// CORS_ORIGIN: answers that origin's (browser page's) requests and preflights.
import { createServer } from 'node:http';
import { concat, NEVER, take, tap } from 'rxjs';
import { createClient } from 'redis';
import { fromChatCompletion, retryWithBackoff, untilDone } from '../../dist/esm/index.js';
import { createRelay, redisRelayStore, writeServerSentEvents } from '../../dist/esm/server/index.js';

const redis = createClient({ url: process.env.REDIS_URL });
redis.on('error', () => undefined);
await redis.connect();
const relay = createRelay({
  store: redisRelayStore(redis, { keyPrefix: process.env.KEY_PREFIX, blockMs: 500 }),
  heartbeat: 0,
  abandonAfter: Number(process.env.ABANDON_AFTER ?? 30_000),
});

const cutAfter = Number(process.env.CUT_AFTER ?? Infinity);
const corsOrigin = process.env.CORS_ORIGIN;

/** The frames of one response, broken off after CUT_AFTER events when set. */
function cut(frames, response) {
  if (cutAfter === Infinity) return frames;
  let sent = 0;
  const breakOff = () => setTimeout(() => response.destroy(), 50);
  return concat(frames.pipe(take(cutAfter), tap(() => ++sent === cutAfter && breakOff())), NEVER);
}

const server = createServer((request, response) => {
  const id = decodeURIComponent(request.url.split('/').pop());
  if (corsOrigin) {
    response.setHeader('access-control-allow-origin', corsOrigin);
    if (request.method === 'OPTIONS') {
      response.writeHead(204, { 'access-control-allow-methods': 'GET, POST', 'access-control-allow-headers': 'content-type, last-event-id' }).end();
      return;
    }
  }
  process.stdout.write(`request ${request.method} ${request.url} ${request.headers['last-event-id'] ?? '-'}\n`);
  let body = '';
  request.on('data', (piece) => (body += piece));
  request.on('end', async () => {
    if (request.method === 'POST') {
      const chat = JSON.parse(body);
      await relay.start(id, fromChatCompletion({ baseURL: process.env.PROVIDER_URL, body: chat }).pipe(untilDone(), retryWithBackoff({ initialDelay: 10 })));
    } else if (!(await relay.has(id))) {
      response.writeHead(204).end();
      return;
    }
    writeServerSentEvents(response, cut(relay.frames(id, request.headers['last-event-id']), response));
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => {
  relay.stop();
  server.close();
  redis.destroy();
  process.exit(0);
});
