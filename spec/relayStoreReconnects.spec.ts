/**
 * The Redis store's connection reports, with a real redis-server killed
 * (SIGKILL) and restarted on the same port: `storeDisconnected` once when the
 * client's command connection and the store's own connection that follows
 * streams are lost, `storeReconnected` once each when they work again, and
 * relayTelemetry's store disconnect and reconnect counters (the SDK's
 * in-memory exporter) counting exactly those.
 */
import { Subscription } from 'rxjs';
import { redisRelayStore, type RelayActivity, type RelayStore } from '../src/server/index.js';
import { relayTelemetry } from '../src/telemetry/index.js';
import { CLIENT_FLAVOURS, type TestClient } from './support/redisClients';
import { redisServerAvailable, startRedisServer, type RedisServer } from './support/redisServer';
import { startTelemetryHarness, type TelemetryHarness } from './support/telemetryHarness';

const run = redisServerAvailable('relayStoreReconnects') ? describe : describe.skip;

/** Waits until `check` holds, polling; fails with `what` after a generous bound (never a timing assert). */
async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((wait) => setTimeout(wait, 50));
  }
}

// One client of each family (node-redis 5, ioredis 5): their reconnect events differ.
const flavours = CLIENT_FLAVOURS.filter((flavour) => flavour.name === 'node-redis 5 RESP2' || flavour.name === 'ioredis 5');

run('redisRelayStore reports its connections lost and back (SIGKILL redis-server, restart on the same port)', () => {
  jest.setTimeout(180_000);
  let redis: RedisServer | undefined;
  let client: TestClient | undefined;
  let store: RelayStore | undefined;
  let otel: TelemetryHarness;
  let subscriptions: Subscription;
  beforeEach(() => {
    otel = startTelemetryHarness();
    subscriptions = new Subscription();
  });
  afterEach(async () => {
    subscriptions.unsubscribe();
    await store?.close?.();
    await client?.close();
    await redis?.stop();
    await otel.shutdown();
    store = client = redis = undefined;
  });

  it.each(flavours.map((flavour) => [flavour.name, flavour] as const))('%s: one storeDisconnected and one storeReconnected per connection, counted by relayTelemetry', async (_name, flavour) => {
    redis = await startRedisServer();
    client = await flavour.connect(redis.url);
    expect(() => redisRelayStore(client!.client, { onActivity: 'yes' as never })).toThrow(TypeError);
    const activities: RelayActivity[] = [];
    const telemetry = relayTelemetry({ tracer: otel.tracer, meter: otel.meter });
    store = redisRelayStore(client.client, {
      onActivity: (activity) => {
        activities.push(activity);
        telemetry.onActivity(activity);
      },
    });
    const types = () => activities.map((activity) => `${activity.type} ${(activity as { connection?: string }).connection}`);

    // A reader waiting on a stream this instance does not produce follows Redis through the store's own
    // connection; its read is answered once that connection has subscribed (and the command connection works).
    let readerFailed = false;
    subscriptions.add(store.changes('s').subscribe({ error: () => (readerFailed = true) }));
    await store.read('s', 0, 10);
    expect([readerFailed, activities]).toEqual([false, []]);

    await redis.kill();
    await until('both connections reported lost', () => types().includes('storeDisconnected commands') && types().includes('storeDisconnected changes'));
    await until('the waiting reader to error', () => readerFailed);

    redis = await startRedisServer({ port: redis.port });
    await until('the command connection reported back', () => types().includes('storeReconnected commands'));
    // The follow connection is the store's own: it reopens when a reader waits again.
    await until('the follow connection reported back', () => {
      if (!types().includes('storeReconnected changes')) subscriptions.add(store!.changes('s').subscribe({ error: () => undefined }));
      return types().includes('storeReconnected changes');
    });
    await expect(store.read('s', 0, 10)).resolves.toBeUndefined(); // the restarted server kept nothing; the store answers

    expect([...types()].sort()).toEqual(['storeDisconnected changes', 'storeDisconnected commands', 'storeReconnected changes', 'storeReconnected commands']);
    const metrics = await otel.metrics();
    const byConnection = (name: string) =>
      (metrics[name] ?? []).map((point) => [point.attributes['rxjs_llm_stream.relay.store_connection'], point.value]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(byConnection('rxjs_llm_stream.relay.store.disconnects')).toEqual([
      ['changes', 1],
      ['commands', 1],
    ]);
    expect(byConnection('rxjs_llm_stream.relay.store.reconnects')).toEqual([
      ['changes', 1],
      ['commands', 1],
    ]);
    for (const point of metrics['rxjs_llm_stream.relay.store.disconnects']!) expect(typeof point.attributes['error.type']).toBe('string');
  });
});
