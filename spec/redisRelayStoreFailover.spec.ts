import { redisRelayStore, RelayLeaseLostError, type RelayStore } from '../src/server/index';
import { keySlot } from '../src/server/redis/keySlot';
import { followStore } from './support/followStore';
import { startRedisCluster, type RedisCluster } from './support/redisCluster';
import { selectedFlavours } from './support/redisClients';
import { redisServerAvailable } from './support/redisServer';

// Opt-in (RELAY_FAILOVER_SPEC=1): on a loaded machine a manual CLUSTER FAILOVER did not always complete
// within its retries (seen in a CI-like run), so this spec is not yet deterministic enough for CI.
const optedIn = process.env.RELAY_FAILOVER_SPEC === '1';
if (!optedIn) process.stdout.write('redisRelayStoreFailover.spec: left out (set RELAY_FAILOVER_SPEC=1): a manual failover is not yet deterministic under load.\n');
const run = optedIn && redisServerAvailable('redisRelayStoreFailover.spec') ? describe : describe.skip;
const sleep = (ms: number) => new Promise((wait) => setTimeout(wait, ms));

/** A write retried until it lands, as the relay's producer retries its appends in order. */
async function retried<T>(write: () => Promise<T>, failures: { count: number }): Promise<T> {
  for (let attempt = 0; attempt < 300; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (error instanceof RelayLeaseLostError) throw error;
      failures.count++;
      await sleep(100);
    }
  }
  throw new Error('write failed for 30 s');
}

// A manual failover (CLUSTER FAILOVER on the replica) is deterministic: the
// replica takes over only once it has every write its master acknowledged.
run('redisRelayStore across a Redis Cluster failover (three masters, one replica)', () => {
  let cluster: RedisCluster;

  beforeAll(async () => {
    cluster = await startRedisCluster({ replica: true });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it.each(selectedFlavours().map((flavour) => [flavour.name, flavour] as const))(
    '%s: a stream on the failing-over shard stays exact for local and remote readers, its producer goes on',
    async (name, flavour) => {
      const a = await flavour.connectCluster(cluster.nodes);
      const b = await flavour.connectCluster(cluster.nodes);
      const producer: RelayStore = redisRelayStore(a.client);
      const remote: RelayStore = redisRelayStore(b.client, { blockMs: 500 });
      try {
        let id = '';
        for (let i = 0; !id; i++) if (cluster.masterOf(keySlot(`{failover-${name}-${i}}`)) === cluster.nodes[0]) id = `failover-${name}-${i}`;
        const claim = await producer.claim(id, { leaseMs: 60_000, ttlMs: 120_000 });
        if (claim.status !== 'created') throw new Error(claim.status);
        const readers = [producer, remote, remote, remote].map((store) => followStore(store, id, { resume: true, deadlineMs: 90_000 }));
        const failures = { count: 0 };
        for (let n = 1; n <= 10; n++) await retried(() => producer.append(claim.lease, [{ data: `${n}` }]), failures);
        await cluster.failover();
        for (let n = 11; n <= 20; n++) await retried(() => producer.append(claim.lease, [{ data: `${n}` }]), failures);
        await retried(() => producer.end(claim.lease, { event: 'done', data: 'end' }, 60_000), failures);
        const results = await Promise.all(readers);
        process.stdout.write(`${name} failover: write failures retried ${failures.count}, reader faults resumed ${JSON.stringify(results.map((result) => result.faults))}\n`);
        for (const result of results) {
          expect(result.entries.map((entry) => entry.data)).toEqual([...Array.from({ length: 20 }, (_, n) => `${n + 1}`), 'end']);
          expect(result.entries.map((entry) => entry.seq)).toEqual(Array.from({ length: 21 }, (_, n) => n + 1));
        }
      } finally {
        await producer.close?.();
        await remote.close?.();
        await a.close();
        await b.close();
      }
    },
    180_000,
  );
});
