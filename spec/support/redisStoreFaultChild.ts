// One relay instance's two stores in a child process, for the Redis fault
// spec: a producer appends to three streams while local and remote readers
// follow them; the spec SIGKILLs redis-server and restarts it meanwhile. A
// tripwire ends the process with code 99 on any uncaught exception or
// unhandled rejection. Prints "ready", "progress N", then "RESULT <json>".
// Env: REDIS_URL, FLAVOUR (a name from redisClients.ts), EVENTS.
import { redisRelayStore, RelayLeaseLostError, type RelayLease } from '../../src/server/index';
import { followStore } from './followStore';
import { CLIENT_FLAVOURS } from './redisClients';

for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (error: unknown) => {
    process.stdout.write(`TRIPWIRE ${event} ${String((error as Error)?.stack ?? error)}\n`);
    process.exit(99);
  });
}

const sleep = (ms: number) => new Promise((wait) => setTimeout(wait, ms));
const url = process.env.REDIS_URL!;
const events = Number(process.env.EVENTS ?? 60);
const flavour = CLIENT_FLAVOURS.find((candidate) => candidate.name === process.env.FLAVOUR);

async function main(): Promise<void> {
  if (!flavour) throw new Error(`no flavour ${process.env.FLAVOUR}`);
  const a = await flavour.connect(url);
  const b = await flavour.connect(url);
  const producer = redisRelayStore(a.client);
  const remote = redisRelayStore(b.client, { blockMs: 1_000 });
  let writeFailures = 0;

  /** A write retried until it lands (a producer's appends are retried in order); a lost lease ends it. */
  async function retried<T>(write: () => Promise<T>): Promise<T> {
    for (let attempt = 0; attempt < 600; attempt++) {
      try {
        return await write();
      } catch (error) {
        if (error instanceof RelayLeaseLostError) throw error;
        writeFailures++;
        await sleep(100);
      }
    }
    throw new Error('write failed for a minute');
  }

  const leases: RelayLease[] = [];
  for (const id of ['fault-1', 'fault-2', 'fault-3']) {
    const claim = await producer.claim(`${id}-${process.pid}`, { leaseMs: 120_000, ttlMs: 300_000 });
    if (claim.status !== 'created') throw new Error(claim.status);
    leases.push(claim.lease);
  }
  const readers = leases.flatMap((lease) =>
    [producer, producer, remote, remote, remote].map((store) => followStore(store, lease.streamId, { resume: true, deadlineMs: 150_000 })),
  );
  process.stdout.write('ready\n');
  for (let n = 1; n <= events; n++) {
    await Promise.all(leases.map((lease) => retried(() => producer.append(lease, [{ data: `${lease.streamId}:${n}` }]))));
    if (n % 10 === 0) process.stdout.write(`progress ${n}\n`);
    await sleep(50);
  }
  await Promise.all(leases.map((lease) => retried(() => producer.end(lease, { event: 'done', data: 'end' }, 60_000))));
  const results = await Promise.all(readers);
  const exact = results.every((result, k) => {
    const lease = leases[Math.floor(k / 5)]!;
    const want = [...Array.from({ length: events }, (_, n) => `${lease.streamId}:${n + 1}`), 'end'];
    return JSON.stringify(result.entries.map((entry) => entry.data)) === JSON.stringify(want) && result.entries.every((entry, i) => entry.seq === i + 1);
  });
  const readerFaults = results.map((result) => result.faults);
  process.stdout.write(`RESULT ${JSON.stringify({ exact, writeFailures, readerFaults })}\n`);
  await producer.close?.();
  await remote.close?.();
  await a.close();
  await b.close();
  process.exit(0);
}

void main();
