/**
 * One relay instance of `npm run bench:relay`, in its own process (its CPU
 * and heap are its own), loading the built package as users load it. The
 * driver starts two: A (runs every provider request) and B (a second
 * instance: remote and resuming readers connect there). Each serves every
 * contender side by side, one at a time:
 *
 * - `GET  /direct/:id`        the synthetic provider written straight to the response (pass-through)
 * - `GET  /memory/:id`        `relay.start` + `relay.frames` on the memory store
 * - `GET  /redis/:id`         the same on the Redis store (a local reader)
 * - `POST /redis/start/:id`   `relay.start` only (the answer is read elsewhere)
 * - `GET  /redis/read/:id`    `relay.has` + `relay.frames(id, Last-Event-ID)` (a remote or resuming reader)
 * - `GET  /rs/:id`            `resumable-stream`'s `resumableStream` (its first reader)
 * - `POST /rs/start/:id`      `createNewResumableStream` only
 * - `GET  /rs/read/:id?skip=` `resumeExistingStream(id, skip)` (a remote or resuming reader)
 * - `/rs-stored/…`, `/rs-fenced/…`, `/rs-xadd/…`
 *                             the three `/rs/` routes, with each value the provider emits also
 *                             written to Redis: through a `redisRelayStore` as the relay writes
 *                             it (`claim`, one `append` per value, `end`), as one minimal fenced
 *                             script per value (`FENCED_APPEND`), or as one bare `XADD` per value
 *                             (the opt-in paths `rsStoredRemote`, `rsFencedRemote`, `rsXaddRemote`)
 * - `POST /ds/start/:id?to=`  creates the Durable Stream `to` (`PUT`), answers 204, and runs the
 *                             provider into it: one `POST` per value, in order, then a close
 * - `GET  /ds-urls`           the origins of this instance's two Durable Streams servers, each on
 *                             its own loopback port: `dsReference` (`@durable-streams/server`, in
 *                             memory) and `dsOurs` (`writeDurableLog` on `memoryDurableLogStore`)
 *
 * The synthetic provider: EVENTS values GAP_MS apart, each stamped with the
 * wall time it was due (`t`, ms). The driver asks over IPC for
 * `{ heapUsed, cpu }` (after a GC when asked). Prints "listening PORT".
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { DurableStreamTestServer } from '@durable-streams/server';
import { createResumableStreamContext } from 'resumable-stream';
import { concatMap, defer, finalize, from, lastValueFrom, map, range, switchMap, tap, timer, type Observable } from 'rxjs';
import {
  createRelay,
  memoryDurableLogStore,
  memoryRelayStore,
  redisRelayStore,
  toServerSentEvents,
  writeDurableLog,
  type RelayStore,
  writeServerSentEvents,
} from 'rxjs-llm-stream/server';
import { hopTraceLines, noteEmitted, traceHops } from './hopTrace.js';
import { STORING_PATHS } from './relayTypes.js';
import { serverTraceLines, traceConnections, traceResume } from './resumeTrace.js';

const instance = process.env.INSTANCE ?? 'A';
const redisUrl = process.env.REDIS_URL!;
const events = Number(process.env.EVENTS ?? 30);
const gapMs = Number(process.env.GAP_MS ?? 100);
const gc = (globalThis as { gc?: () => void }).gc;
const now = () => performance.timeOrigin + performance.now();
const fail = (what: string) => (error: unknown) => process.stderr.write(`relay ${instance}: ${what}: ${error instanceof Error ? error.message : String(error)}\n`);

/**
 * The provider: values `{ n, t, content }` due GAP_MS apart from when it is
 * subscribed (pass-through: at the request; the relay and resumable-stream:
 * once their start path has answered, so streams started in one go keep
 * values due in the same millisecond, see hopTrace.ts), on a fixed schedule,
 * each stamped with the time it was due (`t`). A real
 * provider's bytes arrive on the provider's schedule whatever this process is
 * doing, so a busy event loop here (the relay's own work) shows as latency:
 * a late timer catches up at once rather than shifting the stamps.
 */
const provider = () =>
  defer(() => {
    const start = now();
    return range(0, events).pipe(
      concatMap((n) => {
        const due = start + (n + 1) * gapMs;
        return timer(Math.max(0, due - now())).pipe(
          map(() => {
            noteEmitted(due);
            return { n, t: due, content: `token ${n} ` };
          }),
        );
      }),
    );
  });
/** The provider as the SSE frames pass-through writes (`toServerSentEvents`, with its `done` end event). */
const providerFrames = () => provider().pipe(toServerSentEvents({ heartbeat: 0 }));

/**
 * The provider's frames, each also written to Redis through `store` as the
 * relay writes a stream: claimed first (the provider starts once the claim
 * is answered), one append per value as it is emitted (not awaited: the
 * store keeps a stream's appends in order), the end entry last. A write
 * that fails is reported, and the frames go on.
 */
function storedFrames(store: RelayStore, id: string): Observable<string> {
  return from(store.claim(id, { leaseMs: 10_000, ttlMs: 30_000 })).pipe(
    switchMap((claim) => {
      if (claim.status !== 'created' && claim.status !== 'takenOver') throw new Error(`bench: claim ${id}: ${claim.status}`);
      const { lease } = claim;
      return providerFrames().pipe(
        tap((frame) => void store.append(lease, [{ data: frame }]).catch(fail(`append ${id}`))),
        finalize(() => void store.end(lease, { data: 'done' }, 30_000).catch(fail(`end ${id}`))),
      );
    }),
  );
}

type CommandClient = { sendCommand(args: string[]): Promise<unknown> };

const STORING_URLS: readonly string[] = Object.values(STORING_PATHS).map((storing) => storing.url);

/**
 * The least a fenced append can do in one step: compare the lease token,
 * add the entry, count the log's expiry from this write. No limits, no
 * recorded state, no change message (resumable-stream publishes its own).
 */
const FENCED_APPEND = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('XADD', KEYS[2], '*', 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[2], 30000)
return 1`;

/** The provider's frames, each also written by `FENCED_APPEND` (not awaited), under a lease taken first as a claim would. */
function fencedFrames(client: CommandClient, sha: string, base: string): Observable<string> {
  const token = randomUUID();
  return from(client.sendCommand(['SET', `${base}:lease`, token, 'PX', '30000'])).pipe(
    switchMap(() => providerFrames()),
    tap((frame) => {
      const refused = (answer: unknown) => Number(answer) !== 1 && fail(`append ${base}`)(new Error(`the fence refused it (${String(answer)})`));
      client.sendCommand(['EVALSHA', sha, '2', `${base}:lease`, `${base}:log`, token, frame]).then(refused, fail(`append ${base}`));
    }),
  );
}

/** The provider's frames, each also written to Redis as one bare `XADD` to the stream's key (not awaited). */
function xaddFrames(client: CommandClient, key: string): Observable<string> {
  return providerFrames().pipe(tap((frame) => void client.sendCommand(['XADD', key, '*', 'd', frame]).catch(fail(`XADD ${key}`))));
}

/** A node-redis client whose connections (and their duplicates) carry `name`, so CLIENT LIST can count them. */
async function namedClient(name: string) {
  const client = createClient({ url: redisUrl, name });
  client.on('error', fail(name));
  await client.connect();
  return client;
}

function toReadable(frames: Observable<string>): ReadableStream<string> {
  let subscription: { unsubscribe(): void } | undefined;
  return new ReadableStream<string>({
    start(controller) {
      subscription = frames.subscribe({ next: (frame) => controller.enqueue(frame), complete: () => controller.close(), error: (error) => controller.error(error) });
    },
    cancel: () => subscription?.unsubscribe(),
  });
}

/** Writes a stream of strings to the response as a Node server does with a web stream: chunk by chunk, honouring `drain`. */
async function pipeReadable(stream: ReadableStream<string>, response: ServerResponse): Promise<void> {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  response.flushHeaders();
  response.socket?.setNoDelay(true);
  const reader = stream.getReader();
  response.once('close', () => void reader.cancel().catch(() => undefined));
  for (;;) {
    const { done, value } = await reader.read();
    if (done || response.destroyed) break;
    if (!response.write(value)) await once(response, 'drain');
  }
  response.end();
}

/** Resolves with the origin of a Node HTTP server listening on a free loopback port. */
async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** This instance's Durable Streams servers: the reference server and ours, both in memory. */
async function startDurableStreamsServers(): Promise<{ dsReference: string; dsOurs: string }> {
  const reference = new DurableStreamTestServer({ port: 0, host: '127.0.0.1', compression: false });
  const store = memoryDurableLogStore();
  const [dsReference, dsOurs] = await Promise.all([reference.start(), listen((request, response) => void writeDurableLog(request, response, { store }))]);
  return { dsReference: dsReference.replace(/\/$/, ''), dsOurs };
}

/** One request to a Durable Streams server; throws unless it answers `expected`. */
async function dsRequest(url: string, init: RequestInit, expected: number[]): Promise<void> {
  const response = await fetch(url, init);
  await response.arrayBuffer();
  if (!expected.includes(response.status)) throw new Error(`${init.method} ${url}: status ${response.status}`);
}

/** A producer writing the provider into a Durable Stream: one append per value, in order, then a close-only append. */
async function produceIntoDurableStream(url: string): Promise<void> {
  const headers = { 'content-type': 'application/json' };
  await lastValueFrom(provider().pipe(concatMap((value) => dsRequest(url, { method: 'POST', headers, body: JSON.stringify([value]) }, [200, 204]))), { defaultValue: undefined });
  await dsRequest(url, { method: 'POST', headers: { ...headers, 'stream-closed': 'true' } }, [200, 204]);
}

async function main(): Promise<void> {
  traceHops(Number(new URL(redisUrl).port));
  const durableStreams = await startDurableStreamsServers();
  const memoryRelay = createRelay({ store: memoryRelayStore(), heartbeat: 0, abandonAfter: Infinity, ttlAfterEnd: 30_000 });
  const relayClient = await namedClient(`bench-relay-${instance}`);
  const redisRelay = createRelay({
    store: redisRelayStore(relayClient as never, { keyPrefix: `bench:${process.env.RUN_ID ?? 'x'}:` }),
    heartbeat: 0,
    abandonAfter: Infinity,
    ttlAfterEnd: 30_000,
  });
  const [publisher, subscriber] = await Promise.all([namedClient(`bench-rs-${instance}`), namedClient(`bench-rs-${instance}`)]);
  const rs = createResumableStreamContext({ waitUntil: null, publisher, subscriber, keyPrefix: `bench:${process.env.RUN_ID ?? 'x'}:rs` });
  const makeStream = () => toReadable(providerFrames());
  // The opt-in paths that price the relay's storage: resumable-stream, each value also written to Redis.
  const storingClient = await namedClient(`bench-storing-${instance}`);
  const storingStore = redisRelayStore(storingClient as never, { keyPrefix: `bench:${process.env.RUN_ID ?? 'x'}:stored:` });
  const fencedSha = String(await storingClient.sendCommand(['SCRIPT', 'LOAD', FENCED_APPEND]));
  const storingKey = (kind: string, id: string) => `bench:${process.env.RUN_ID ?? 'x'}:${kind}:{${id}}`;
  const makeStreamOf = (kind: string, id: string) =>
    kind === 'rs-stored'
      ? () => toReadable(storedFrames(storingStore, id))
      : kind === 'rs-fenced'
        ? () => toReadable(fencedFrames(storingClient, fencedSha, storingKey(kind, id)))
        : kind === 'rs-xadd'
          ? () => toReadable(xaddFrames(storingClient, storingKey(kind, id)))
          : makeStream;

  const route = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://relay');
    const [, path, action, id = action] = url.pathname.split('/') as [string, string, string, string?];
    // The storing variants of resumable-stream run its routes; only how A's streams are made differs.
    const kind = STORING_URLS.includes(path) ? 'rs' : path;
    const lastEventId = request.headers['last-event-id'];
    const lastId = typeof lastEventId === 'string' ? lastEventId : undefined;
    const relay = kind === 'memory' ? memoryRelay : redisRelay;
    if (kind === 'ds-urls') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(durableStreams));
    } else if (kind === 'ds' && action === 'start') {
      const to = url.searchParams.get('to') ?? '';
      await dsRequest(to, { method: 'PUT', headers: { 'content-type': 'application/json' } }, [201]);
      response.writeHead(204).end();
      produceIntoDurableStream(to).catch(fail(`producing into ${to}`));
    } else if (kind === 'direct') {
      writeServerSentEvents(response, providerFrames());
    } else if ((kind === 'memory' || kind === 'redis') && action === 'start') {
      await relay.start(id, provider());
      response.writeHead(204).end();
    } else if ((kind === 'memory' || kind === 'redis') && action === 'read') {
      const found = traceResume(request, response, 'relay');
      const has = await relay.has(id);
      found();
      if (!has) response.writeHead(204).end();
      else writeServerSentEvents(response, relay.frames(id, lastId));
    } else if (kind === 'memory' || kind === 'redis') {
      await relay.start(id, provider());
      writeServerSentEvents(response, relay.frames(id));
    } else if (kind === 'rs' && action === 'start') {
      const stream = await rs.createNewResumableStream(id, makeStreamOf(path, id));
      // Nobody reads it here: the producer runs on regardless, as the package documents.
      await stream?.cancel();
      response.writeHead(204).end();
    } else if (kind === 'rs' && action === 'read') {
      const found = traceResume(request, response, 'resumable-stream');
      const stream = await rs.resumeExistingStream(id, Number(url.searchParams.get('skip') ?? 0));
      found();
      if (!stream) response.writeHead(stream === null ? 422 : 204).end();
      else await pipeReadable(stream, response);
    } else if (kind === 'rs') {
      const stream = await rs.resumableStream(id, makeStreamOf(path, id));
      if (!stream) response.writeHead(422).end();
      else await pipeReadable(stream, response);
    } else {
      response.writeHead(404).end();
    }
  };
  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      fail(`${request.method} ${request.url}`)(error);
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  traceConnections(server);
  process.on('message', (message: { type: string; gc?: boolean; run?: string }) => {
    if (message.type !== 'stats') return;
    for (const line of serverTraceLines()) process.stderr.write(`${line}\n`);
    if (message.run !== undefined) for (const line of hopTraceLines(`${message.run}, instance ${instance}`)) process.stderr.write(`${line}\n`);
    if (message.gc) gc?.();
    const cpu = process.cpuUsage();
    process.send!({ type: 'stats', heapUsed: process.memoryUsage().heapUsed, cpuMicros: cpu.user + cpu.system });
  });
  process.on('disconnect', () => process.exit(0));
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`));
}

main().catch((error: unknown) => {
  fail('start')(error);
  process.exit(1);
});
