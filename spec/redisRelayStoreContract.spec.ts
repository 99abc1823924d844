import { redisRelayStore } from '../src/server/redisRelayStore';
import { selectedFlavours, type TestClient } from './support/redisClients';
import { describeRelayStoreContract } from './support/relayStoreContract';
import { redisServerAvailable, startRedisServer, type RedisServer } from './support/redisServer';

const run = redisServerAvailable('redisRelayStoreContract.spec') ? describe : describe.skip;

// The relay store contract (the same cases the memory store passes), against a
// real redis-server through every client × protocol CI supports.
run('redisRelayStore, every client (real redis-server)', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedisServer();
  }, 30_000);

  afterAll(async () => {
    await server?.stop();
  });

  describe.each(selectedFlavours().map((flavour) => [flavour.name, flavour] as const))('%s', (name, flavour) => {
    let connected: TestClient;

    beforeAll(async () => {
      connected = await flavour.connect(server.url);
    });

    afterAll(async () => {
      await connected?.close();
    });

    describeRelayStoreContract(`redisRelayStore (${name})`, () => redisRelayStore(connected.client));
  });
});
