// One relay instance, as a separate process, for the two-instance test: POST
// /chat/:id starts the provider stream (OpenAI-compatible, retried on the
// provider hop) into the relay and streams it; GET /chat/:id resumes from
// Last-Event-ID. The store is Redis (REDIS_URL). Prints "listening PORT".
import { createServer } from 'node:http';
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

const server = createServer((request, response) => {
  const id = decodeURIComponent(request.url.split('/').pop());
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
    writeServerSentEvents(response, relay.frames(id, request.headers['last-event-id']));
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => {
  relay.stop();
  server.close();
  redis.destroy();
  process.exit(0);
});
