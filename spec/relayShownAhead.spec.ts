import { firstValueFrom, lastValueFrom, Subject, take, timeout, toArray } from 'rxjs';
import { createClient } from 'redis';
import { createRelay, redisRelayStore, type Relay, type RelayEntry } from '../src/server/index';
import { redisServerAvailable, startRedisServer, type RedisServer } from './support/redisServer';

const run = redisServerAvailable('relayShownAhead.spec') ? describe : describe.skip;

/**
 * A client reads a stream on the instance that produces it (A), which shows
 * events before Redis stores them, then resumes on another instance (B)
 * with the id of an event Redis has not stored yet. A's writes are held at
 * a gate in its Redis client, so the order is certain.
 */
run('relay on Redis: resuming elsewhere from an event shown before it was stored (real redis-server)', () => {
  let server: RedisServer;
  const clients: Array<ReturnType<typeof createClient>> = [];
  let relays: Relay[] = [];
  let openGate: () => void = () => undefined;

  beforeAll(async () => {
    server = await startRedisServer();
  }, 30_000);
  afterEach(async () => {
    openGate();
    for (const relay of relays) await relay.close();
    relays = [];
    for (const client of clients.splice(0)) client.destroy();
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** A relay on its own client; with `gated`, every script it sends waits while the gate is closed. */
  async function relayOn(gated: boolean): Promise<{ relay: Relay; closeGate: () => void }> {
    const client = createClient({ url: server.url });
    client.on('error', () => undefined);
    await client.connect();
    clients.push(client);
    let gate: Promise<void> = Promise.resolve();
    if (gated) {
      const send = client.sendCommand.bind(client);
      (client as { sendCommand: unknown }).sendCommand = async (...args: Parameters<typeof send>) => {
        if (String(args[0]?.[0]).toUpperCase().startsWith('EVAL')) await gate;
        return send(...args);
      };
    }
    const relay = createRelay({ store: redisRelayStore(client, { keyPrefix: 'ahead:' }), heartbeat: 200, leaseMs: 10_000, abandonAfter: Infinity });
    relays.push(relay);
    return {
      relay,
      closeGate: () => {
        gate = new Promise((resolve) => (openGate = resolve));
      },
    };
  }

  it('B waits until the event is stored and goes on after it: no restart, nothing twice, nothing lost', async () => {
    const a = await relayOn(true);
    const { relay: b } = await relayOn(false);
    const source = new Subject<{ n: number }>();
    expect(await a.relay.start('ahead', source)).toBe(true);
    const onA: RelayEntry[] = [];
    const readingA = a.relay.events('ahead').subscribe((entry) => onA.push(entry));
    const seen = (count: number) => firstValueFrom(a.relay.events('ahead').pipe(take(count), toArray(), timeout(15_000)));
    source.next({ n: 1 });
    source.next({ n: 2 });
    await seen(2);
    // From now on A's writes wait: A's reader still gets 3 and 4, from memory.
    a.closeGate();
    source.next({ n: 3 });
    source.next({ n: 4 });
    const deadline = Date.now() + 15_000;
    while (onA.length < 4 && Date.now() < deadline) await new Promise((wait) => setTimeout(wait, 10));
    readingA.unsubscribe();
    expect(onA.map((entry) => JSON.parse(entry.data).n)).toEqual([1, 2, 3, 4]);
    const lastId = onA[3]!.id;
    // The client resumes on B with the id of 4, which Redis does not hold yet.
    const onB = lastValueFrom(b.events('ahead', lastId).pipe(toArray(), timeout(30_000)));
    await new Promise((wait) => setTimeout(wait, 300));
    openGate();
    source.next({ n: 5 });
    source.complete();
    const resumed = await onB;
    expect(resumed.map((entry) => entry.event ?? 'message')).toEqual(['message', 'done']);
    expect(JSON.parse(resumed[0]!.data)).toEqual({ n: 5 });
    expect(resumed[0]!.id).toBe(lastId.replace(/-4$/, '-5'));
  }, 60_000);
});
