import { createClient } from 'redis';
import { redisRelayStore, type RelayLease } from '../src/server/index';
import { followStore } from './support/followStore';
import { selectedFlavours, type TestClient } from './support/redisClients';
import { redisServerAvailable, startRedisServer, type RedisServer } from './support/redisServer';

const run = redisServerAvailable('redisRelayStoreConnections.spec') ? describe : describe.skip;

/** Connections per client name, from CLIENT LIST (duplicates keep their parent's name). */
async function connectionsByName(admin: ReturnType<typeof createClient>): Promise<Map<string, number>> {
  const list = String(await admin.sendCommand(['CLIENT', 'LIST']));
  const counts = new Map<string, number>();
  for (const line of list.split('\n')) {
    const name = / name=(\S*)/.exec(line)?.[1];
    if (name) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

run('redisRelayStore connections (real redis-server, CLIENT LIST)', () => {
  let server: RedisServer;
  let admin: ReturnType<typeof createClient>;

  beforeAll(async () => {
    server = await startRedisServer();
    admin = createClient({ url: server.url });
    admin.on('error', () => undefined);
    await admin.connect();
  }, 30_000);

  afterAll(async () => {
    admin?.destroy();
    await server?.stop();
  });

  describe.each(selectedFlavours().map((flavour) => [flavour.name, flavour] as const))('%s', (name, flavour) => {
    let a: TestClient;
    let b: TestClient;
    const tag = name.replace(/\W+/g, '-');

    afterAll(async () => {
      await a?.close();
      await b?.close();
    });

    it('200 readers of 20 streams on each of two instances: the producing one keeps 1 connection, the other 2 (never one per reader), and every reader gets every entry', async () => {
      a = await flavour.connect(server.url, `producer-${tag}`);
      b = await flavour.connect(server.url, `remote-${tag}`);
      const producer = redisRelayStore(a.client);
      const remote = redisRelayStore(b.client);
      const leases: RelayLease[] = [];
      for (let i = 0; i < 20; i++) {
        const claim = await producer.claim(`conn-${tag}-${i}`, { leaseMs: 30_000, ttlMs: 60_000 });
        if (claim.status !== 'created') throw new Error(claim.status);
        leases.push(claim.lease);
      }
      const readers = leases.flatMap((lease, i) =>
        Array.from({ length: 10 }, (_, j) => [followStore(producer, lease.streamId), followStore(remote, lease.streamId, { limit: 5 + j })]).flat().map((reader) => ({ i, reader })),
      );
      const samples: Array<Map<string, number>> = [];
      for (let n = 1; n <= 30; n++) {
        await Promise.all(leases.map((lease) => producer.append(lease, [{ data: `${lease.streamId}:${n}` }])));
        if (n % 10 === 0) samples.push(await connectionsByName(admin));
      }
      await Promise.all(leases.map((lease) => producer.end(lease, { event: 'done', data: '' }, 60_000)));
      const results = await Promise.all(readers.map(({ reader }) => reader));
      expect(results).toHaveLength(400);
      results.forEach((result, k) => {
        const lease = leases[readers[k]!.i]!;
        expect(result.entries.map((entry) => entry.data)).toEqual([...Array.from({ length: 30 }, (_, n) => `${lease.streamId}:${n + 1}`), '']);
      });
      const most = (who: string) => Math.max(...samples.map((sample) => sample.get(`${who}-${tag}`) ?? 0));
      process.stdout.write(`${name}: connections while 200 + 200 readers waited: producing instance ${most('producer')}, other instance ${most('remote')}\n`);
      expect(most('producer')).toBe(1);
      expect(most('remote')).toBe(2);
      await producer.close?.();
      await remote.close?.();
      // close() ends the store's own connection; the client it was given stays.
      for (let i = 0; i < 50 && ((await connectionsByName(admin)).get(`remote-${tag}`) ?? 0) > 1; i++) await new Promise((wait) => setTimeout(wait, 100));
      expect((await connectionsByName(admin)).get(`remote-${tag}`)).toBe(1);
    }, 120_000);
  });
});
