// One Durable Streams server, as a separate process, for the killed-instance
// script of spec/fromDurableStream.faults.spec.ts (SIGKILLed mid-stream, then
// started again on the same port).
//
// Environment:
// - SERVER=reference: the reference server (@durable-streams/server) with its
//   file-backed store in DATA_DIR (LMDB and append-only logs), so streams
//   outlive the process.
// - SERVER=ours: writeDurableLog over redisDurableLogStore on REDIS_URL.
// - PORT: the loopback port to listen on. LONG_POLL_TIMEOUT (ms, default 2000).
// Prints "listening PORT" once it listens.
import { createServer } from 'node:http';

const env = process.env;
const port = Number(env.PORT);
const longPollTimeout = Number(env.LONG_POLL_TIMEOUT ?? 2_000);

if (env.SERVER === 'reference') {
  const { DurableStreamTestServer } = await import('@durable-streams/server');
  const server = new DurableStreamTestServer({ port, host: '127.0.0.1', compression: false, longPollTimeout, dataDir: env.DATA_DIR });
  await server.start();
  process.stdout.write(`listening ${port}\n`);
} else {
  const { redisDurableLogStore, writeDurableLog } = await import('../../dist/esm/server/index.js');
  const { createClient } = await import('redis');
  const client = createClient({ url: env.REDIS_URL });
  client.on('error', () => undefined);
  await client.connect();
  const store = redisDurableLogStore(client);
  const server = createServer((request, response) => void writeDurableLog(request, response, { store, longPollTimeout }));
  server.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
}
