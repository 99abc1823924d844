// Run with --expose-gc by spec/relayFaults.spec.ts: one relay (memory store)
// with one finished stream of about 8 MB, served over HTTP to N connections
// that never read (paused sockets). Prints the heap after GC before the
// connections and once every reader is waiting, in bytes, and how many
// readers were dropped or closed meanwhile.
import { createServer, request } from 'node:http';
import { lastValueFrom, Observable } from 'rxjs';
import { createRelay, writeServerSentEvents } from '../../dist/esm/server/index.js';

const connections = Number(process.argv[2] ?? 20);
const entries = 2_000;
const chunk = 'x'.repeat(4_000);
const activities = [];
const relay = createRelay({ heartbeat: 0, abandonAfter: Infinity, onActivity: (activity) => activities.push(activity.type === 'readerClosed' ? activity.reason : activity.type) });

const source = new Observable((subscriber) => {
  for (let n = 0; n < entries; n++) subscriber.next({ n, content: chunk });
  subscriber.complete();
});
await relay.start('big', source);
await lastValueFrom(relay.events('big'));

const heapAfterGc = () => {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
};
const pause = (ms) => new Promise((wait) => setTimeout(wait, ms));

const server = createServer((_request, response) => writeServerSentEvents(response, relay.frames('big')));
await new Promise((ready) => server.listen(0, '127.0.0.1', ready));
const { port } = server.address();
await pause(200);
activities.length = 0;
const before = heapAfterGc();

const clients = [];
for (let n = 0; n < connections; n++) {
  const client = request({ host: '127.0.0.1', port, path: '/', agent: false }, (response) => response.pause());
  client.on('error', () => undefined);
  client.end();
  clients.push(client);
}
// Until every reader has opened and stopped writing (its client's buffers are full), then a little more.
const deadline = Date.now() + 60_000;
while (activities.filter((type) => type === 'readerOpened').length < connections && Date.now() < deadline) await pause(50);
let settled = -1;
for (let round = 0; round < 50; round++) {
  await pause(200);
  const used = heapAfterGc();
  if (Math.abs(used - settled) < 256 * 1024) break;
  settled = used;
}
const after = heapAfterGc();
process.stdout.write(
  `${JSON.stringify({ connections, streamBytes: entries * chunk.length, before, after, growth: after - before, opened: activities.filter((type) => type === 'readerOpened').length, dropped: activities.filter((type) => type === 'dropped').length, ended: activities.filter((type) => type === 'end').length })}\n`,
);
for (const client of clients) client.destroy();
server.closeAllConnections();
server.close();
await relay.stop();
