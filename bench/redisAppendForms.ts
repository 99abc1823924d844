/**
 * What an append costs redis-server, by the form it takes, side by side on
 * one redis-server (interleaved rounds, medians): 1,000 streams appending
 * 10,000 entries a second for 3 s through one node-redis client, a
 * subscriber on every stream's change channel (so each form pays for
 * delivering its change message too).
 *
 * - **the store's append script**: what `redisRelayStore` sends (its
 *   `append` script through `GatheredCalls`): lease and epoch checked,
 *   limits, expiry renewed, state recorded, entries published.
 * - **a minimal fenced script**: one script call per append that only
 *   compares the lease token, adds the entry under its explicit id and
 *   publishes the change message built by the client. Not shippable as is
 *   (no limits, no expiry renewal, no recorded state, and it would re-create
 *   an expired log); the floor of any append that stays fenced in one step.
 * - **`XADD` + `PUBLISH`, no script**: the same entry and message, two
 *   pipelined commands, no fence at all; the floor of a durable log with
 *   change messages.
 * - **`PUBLISH` only**: resumable-stream's cost per chunk once a reader on
 *   another instance listens (it keeps the chunks in the producer's memory).
 *
 * Each run checks its own work: every stream's log holds its entries and
 * the subscriber got every message. Reports, per append: redis-server's CPU
 * and this process's.
 *
 *   node --import tsx bench/redisAppendForms.ts [rounds=3]
 */
import { createHash } from 'node:crypto';
import { createClient } from 'redis';
import { startRedisServer } from '../spec/support/redisServer.js';
import { entryArgument, GatheredCalls } from '../src/server/redis/gatheredCalls.js';
import { APPEND } from '../src/server/redis/relayScripts.js';
import { redisRelayStore } from '../src/server/index.js';
import { monitorRedis, type RedisMonitor } from './relayRedis.js';
import { median } from './stats.js';
import { pacedCalls } from './pacedCalls.js';

const ROUNDS = Number(process.argv[2] ?? 3);
const STREAMS = 1_000;
const PER_MS = 10;
const TOTAL = 30_000;

const MINIMAL_BODY = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('XADD', KEYS[2], ARGV[2], 'd', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`;
const MINIMAL_SHA = createHash('sha1').update(MINIMAL_BODY).digest('hex');

const FORMS = ["the store's append script", 'a minimal fenced script', 'XADD + PUBLISH, no script', 'PUBLISH only'] as const;
type Form = (typeof FORMS)[number];
type Client = ReturnType<typeof createClient>;

interface Stream {
  meta: string;
  base: string;
  channel: string;
  header: string;
  token: string;
  log: string;
  seq: number;
}

async function runOnce(form: Form, client: Client, subscriber: Client, monitor: RedisMonitor, run: string) {
  const prefix = `bench:forms:${run}:`;
  const store = redisRelayStore(client, { keyPrefix: prefix });
  const streams: Stream[] = [];
  for (let i = 0; i < STREAMS; i++) {
    const claim = await store.claim(`s${i}`, { leaseMs: 60_000, ttlMs: 60_000 });
    if (claim.status !== 'created') throw new Error(claim.status);
    const base = `${prefix}{s${i}}:`;
    const { token, epoch, log } = claim.lease;
    // The append header as the store builds it (see relayScripts.ts), its position not checked.
    streams.push({ meta: `${base}meta`, base, channel: `${base}changes`, header: `${token} ${epoch} 60000 60000 100000 10000000 1 `, token, log, seq: 0 });
  }
  let received = 0;
  const channels = streams.map((stream) => stream.channel);
  await subscriber.subscribe(channels, () => received++);
  const appends = new GatheredCalls((keys, args) => client.sendCommand(['EVALSHA', APPEND.sha, String(keys.length), ...keys, ...args]), ['PUBLISH'], true);
  const send = (stream: Stream, data: string): Array<Promise<unknown>> => {
    if (form === "the store's append script") return [appends.add(stream.meta, [stream.header, entryArgument(data, undefined, false)])];
    const seq = ++stream.seq;
    const message = JSON.stringify(['a', stream.log, seq, 'd', '', data]);
    if (form === 'a minimal fenced script') {
      return [client.sendCommand(['EVALSHA', MINIMAL_SHA, '2', `${stream.base}lease`, `${stream.base}log`, stream.token, `${seq}-0`, data, stream.channel, message])];
    }
    if (form === 'XADD + PUBLISH, no script') {
      return [client.sendCommand(['XADD', `${stream.base}log`, `${seq}-0`, 'd', data]), client.sendCommand(['PUBLISH', stream.channel, message])];
    }
    return [client.sendCommand(['PUBLISH', stream.channel, message])];
  };
  const answers: Array<Promise<unknown>> = [];
  const cpuBefore = process.cpuUsage();
  const redisBefore = await monitor.cpuMicros();
  await pacedCalls(TOTAL, PER_MS, (n) => answers.push(...send(streams[n % STREAMS]!, JSON.stringify({ n, t: Date.now(), content: `token ${n} ` }))));
  const replies = await Promise.all(answers);
  const cpu = process.cpuUsage(cpuBefore);
  const redis = (await monitor.cpuMicros()) - redisBefore;
  // Its own work, checked: every entry stored (but for PUBLISH only), every message delivered, no append refused.
  if (replies.some((reply) => typeof reply === 'number' && reply < 0)) throw new Error(`${form}: an append was refused`);
  const stored = form === 'PUBLISH only' ? TOTAL : (await Promise.all(streams.map((stream) => client.xLen(`${stream.base}log`)))).reduce((sum, length) => sum + length, 0);
  for (let waited = 0; received < TOTAL && waited < 5_000; waited += 10) await new Promise((done) => setTimeout(done, 10));
  if (stored !== TOTAL || received !== TOTAL) throw new Error(`${form}: ${stored} entries stored and ${received} messages received, expected ${TOTAL}`);
  await subscriber.unsubscribe(channels);
  await store.close?.();
  return { cpuUs: (cpu.user + cpu.system) / TOTAL, redisUs: redis / TOTAL };
}

async function main(): Promise<void> {
  const server = await startRedisServer();
  const client = createClient({ url: server.url });
  const subscriber = client.duplicate();
  await Promise.all([client.connect(), subscriber.connect()]);
  await client.sendCommand(['SCRIPT', 'LOAD', APPEND.body]);
  await client.sendCommand(['SCRIPT', 'LOAD', MINIMAL_BODY]);
  const monitor = await monitorRedis(server.url);
  console.log(`Redis append forms: ${STREAMS} streams, ${PER_MS * 1000} appends/s for ${TOTAL / PER_MS / 1000} s, a subscriber on every channel, medians of ${ROUNDS} interleaved rounds`);
  console.log('| form | redis-server CPU per append (µs) | this process CPU per append (µs) |');
  console.log('|---|---|---|');
  const results = new Map<Form, Array<Awaited<ReturnType<typeof runOnce>>>>(FORMS.map((form) => [form, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [...FORMS] : [...FORMS].reverse();
    for (const form of order) results.get(form)!.push(await runOnce(form, client, subscriber, monitor, `${round}-${FORMS.indexOf(form)}`));
  }
  for (const form of FORMS) {
    const of = (pick: (r: Awaited<ReturnType<typeof runOnce>>) => number) => median(results.get(form)!.map(pick));
    console.log(`| ${form} | ${of((r) => r.redisUs).toFixed(1)} | ${of((r) => r.cpuUs).toFixed(1)} |`);
  }
  await Promise.all([client.quit(), subscriber.quit()]);
  await monitor.close();
  await server.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
