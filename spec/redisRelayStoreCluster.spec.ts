import { createClient } from 'redis';
import { redisRelayStore, type RelayLease, type RelayStore } from '../src/server/index';
import { keySlot } from '../src/server/redis/keySlot';
import { RELAY_TAKEOVER_SKIP } from '../src/server/relayStore';
import { followStore } from './support/followStore';
import { startRedisCluster, type RedisCluster } from './support/redisCluster';
import { selectedFlavours, type TestClient } from './support/redisClients';
import { redisServerAvailable } from './support/redisServer';

const run = redisServerAvailable('redisRelayStoreCluster.spec') ? describe : describe.skip;

/** Pubsub connections per node holding shard-channel subscriptions (CLIENT LIST's `ssub`). */
async function shardSubscribers(node: string): Promise<number> {
  const client = createClient({ url: `redis://${node}` });
  client.on('error', () => undefined);
  await client.connect();
  const list = String(await client.sendCommand(['CLIENT', 'LIST']));
  client.destroy();
  return list.split('\n').filter((line) => Number(/ ssub=(\d+)/.exec(line)?.[1] ?? 0) > 0).length;
}

run('redisRelayStore on a real three-master Redis Cluster', () => {
  let cluster: RedisCluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('keeps every key of a stream in one slot (the {streamId} hash tag)', () => {
    const slots = ['meta', 'log', 'lease', 'seen', 'changes'].map((part) => keySlot(`rxjs-llm-stream:relay:{chat:42}:${part}`));
    expect(new Set(slots).size).toBe(1);
    // Known CRC16 slots (redis-cli CLUSTER KEYSLOT): "foo" 12182, "{user1000}.following" 3443.
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('{user1000}.following')).toBe(3443);
  });

  describe.each(selectedFlavours().map((flavour) => [flavour.name, flavour] as const))('%s', (name, flavour) => {
    let a: TestClient;
    let b: TestClient;
    let producer: RelayStore;
    let remote: RelayStore;
    const tag = name.replace(/\W+/g, '-');

    beforeAll(async () => {
      a = await flavour.connectCluster(cluster.nodes);
      b = await flavour.connectCluster(cluster.nodes);
      producer = redisRelayStore(a.client);
      remote = redisRelayStore(b.client);
    }, 60_000);

    afterAll(async () => {
      await producer?.close?.();
      await remote?.close?.();
      await a?.close();
      await b?.close();
    });

    it('one stream on each master: claim, fenced appends, takeover, end; local and remote readers get the same bytes; one follow connection per node', async () => {
      // Stream ids whose hash tags land on each of the three masters.
      const byNode = new Map<string, string>();
      for (let i = 0; byNode.size < 3 && i < 10_000; i++) {
        const id = `cluster-${tag}-${i}`;
        const node = cluster.masterOf(keySlot(`{${id}}`));
        if (!byNode.has(node)) byNode.set(node, id);
      }
      expect([...byNode.keys()].sort()).toEqual([...cluster.nodes].sort());
      const ids = [...byNode.values()];
      const leases: RelayLease[] = [];
      for (const id of ids) {
        const claim = await producer.claim(id, { leaseMs: 30_000, ttlMs: 60_000, owner: 'u' });
        if (claim.status !== 'created') throw new Error(claim.status);
        expect(await remote.claim(id, { leaseMs: 30_000, ttlMs: 60_000, owner: 'u' })).toEqual({ status: 'held' });
        leases.push(claim.lease);
      }
      const local = ids.map((id) => followStore(producer, id));
      const far = ids.flatMap((id) => [followStore(remote, id), followStore(remote, id, { limit: 2 })]);
      for (let n = 1; n <= 10; n++) await Promise.all(leases.map((lease) => producer.append(lease, [{ data: `${lease.streamId}:${n}` }], `r${n}`)));
      // One follow connection per node on the remote instance, none on the producing one (its readers read memory).
      const followers = await Promise.all(cluster.nodes.map((node) => shardSubscribers(node)));
      expect(followers).toEqual([1, 1, 1]);
      // Hand the streams over to the other instance: same log, next seq, resume point.
      const taken: RelayLease[] = [];
      for (const lease of leases) {
        await producer.release(lease);
        const claim = await remote.claim(lease.streamId, { leaseMs: 30_000, ttlMs: 60_000, owner: 'u' });
        expect(claim).toMatchObject({ status: 'takenOver', lastSeq: 10, resume: 'r10' });
        if (claim.status !== 'takenOver') throw new Error(claim.status);
        expect(claim.lease.log).toBe(lease.log);
        await expect(producer.append(lease, [{ data: 'stale' }])).rejects.toMatchObject({ name: 'RelayLeaseLostError' });
        taken.push(claim.lease);
      }
      for (const lease of taken) {
        // Numbered past the seqs a takeover skips (the store shows entries before storing them).
        expect(await remote.append(lease, [{ data: `${lease.streamId}:11` }])).toBe(11 + RELAY_TAKEOVER_SKIP);
        expect(await remote.end(lease, { event: 'done', data: '' }, 60_000)).toBe(12 + RELAY_TAKEOVER_SKIP);
      }
      const mine = await Promise.all(local);
      const theirs = await Promise.all(far);
      mine.forEach((result, k) => {
        const id = ids[k]!;
        expect(result.entries.map((entry) => entry.data)).toEqual([...Array.from({ length: 11 }, (_, n) => `${id}:${n + 1}`), '']);
        expect(JSON.stringify(theirs[2 * k]!.entries)).toBe(JSON.stringify(result.entries));
        expect(JSON.stringify(theirs[2 * k + 1]!.entries)).toBe(JSON.stringify(result.entries));
      });
      for (const id of ids) expect((await producer.read(id, 99 + 2 * RELAY_TAKEOVER_SKIP, 10))?.entries).toEqual([{ seq: 12 + RELAY_TAKEOVER_SKIP, event: 'done', data: '', end: true }]);
      expect(await remote.read(`cluster-${tag}-unknown`, 0, 10)).toBeUndefined();
    }, 120_000);
  });
});
