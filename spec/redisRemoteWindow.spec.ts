import { firstValueFrom, Subject, timeout, type Subscription } from 'rxjs';
import { createClient } from 'redis';
import { redisRelayStore, type RelayStore } from '../src/server/index';
import { parseEntriesMessage, remotePage, takeMessage, takePage, type RemoteWindow } from '../src/server/redis/remoteWindows';
import { redisServerAvailable, startRedisServer, type RedisServer } from './support/redisServer';

const page = (log: string, lastSeq: number, entries: Array<{ seq: number; data: string }>) => ({ log, lastSeq, ended: false, leased: true, owner: undefined, entries });

describe('remote windows (the entries other instances publish)', () => {
  it('reads a write message: kinds, types, terminal entries; anything else is no message', () => {
    expect(parseEntriesMessage('["a","L",5,"d","","x","e","restart","y","E","done","[DONE]"]')).toEqual({
      log: 'L',
      entries: [
        { seq: 5, data: 'x' },
        { seq: 6, event: 'restart', data: 'y' },
        { seq: 7, event: 'done', data: '[DONE]', end: true },
      ],
    });
    for (const other of ['12', 'claim', 'release', '["a","L",5,"d",""]', '["a","L",1.5,"d","","x"]', '["a",7,5,"d","","x"]', '["a","L",5,"d","",{}]', '["a","L",5', '["b","L",5,"d","","x"]']) {
      expect(parseEntriesMessage(other)).toBeUndefined();
    }
  });

  it('serves nothing until a read confirmed the log, then consecutive entries; another log, a gap or a plain message empties it', () => {
    const window: RemoteWindow = { confirmed: undefined, entries: [] };
    takeMessage(window, '["a","L",3,"d","","c"]');
    expect(remotePage(window, 2, 10)).toBeUndefined();
    takePage(window, page('L', 3, [{ seq: 1, data: 'a' }, { seq: 2, data: 'b' }, { seq: 3, data: 'c' }]));
    takeMessage(window, '["a","L",4,"d","","d","d","","e"]');
    expect(remotePage(window, 3, 10)?.entries.map((entry) => entry.data)).toEqual(['d', 'e']);
    expect(remotePage(window, 1, 2)?.entries.map((entry) => entry.data)).toEqual(['b', 'c']);
    // Nothing newer than the position: the reader reads Redis (the window may lag a write).
    expect(remotePage(window, 5, 10)).toBeUndefined();
    takeMessage(window, '["a","L",9,"d","","i"]');
    expect(remotePage(window, 5, 10)).toBeUndefined();
    // After a gap, the window starts again at the message (a reader behind it reads Redis).
    expect(window.entries.map((entry) => entry.seq)).toEqual([9]);
    takePage(window, page('L', 9, [{ seq: 9, data: 'i' }]));
    takeMessage(window, '["a","OTHER",10,"d","","j"]');
    expect(window).toEqual({ confirmed: undefined, entries: [], unconfirmed: { log: 'OTHER', entries: [{ seq: 10, data: 'j' }] } });
    expect(remotePage(window, 9, 10)).toBeUndefined();
    takePage(window, page('L', 9, [{ seq: 9, data: 'i' }]));
    takeMessage(window, 'release');
    expect(remotePage(window, 8, 10)).toBeUndefined();
  });

  it('holds what is published before a read confirms the log; the read keeps what follows on from it, and nothing else', () => {
    const data = (window: RemoteWindow, after: number) => remotePage(window, after, 10)?.entries.map((entry) => `${entry.seq}:${entry.data}`);
    // A write lands while the first read is on its way: the read found 1..3, the message carried 3 and 4.
    const crossed: RemoteWindow = { confirmed: undefined, entries: [] };
    takeMessage(crossed, '["a","L",3,"d","","c","d","","d"]');
    takeMessage(crossed, '["a","L",5,"d","","e"]');
    expect(remotePage(crossed, 2, 10)).toBeUndefined();
    takePage(crossed, page('L', 3, [{ seq: 2, data: 'b' }, { seq: 3, data: 'c' }]));
    expect(data(crossed, 3)).toEqual(['4:d', '5:e']);
    expect(data(crossed, 1)).toEqual(['2:b', '3:c', '4:d', '5:e']);
    expect(crossed.unconfirmed).toBeUndefined();
    // Held entries that do not follow on from the read (a message lost between), another log's, or ones a plain message dropped: not kept.
    const cases: Array<[string, string[], number]> = [
      ['a gap', ['["a","L",5,"d","","e"]'], 3],
      ['another log', ['["a","OTHER",4,"d","","d"]'], 3],
      ['a release after them', ['["a","L",4,"d","","d"]', 'release'], 3],
      ['a gap between two messages', ['["a","L",4,"d","","d"]', '["a","L",6,"d","","f"]'], 3],
    ];
    for (const [why, messages, lastSeq] of cases) {
      const window: RemoteWindow = { confirmed: undefined, entries: [] };
      for (const message of messages) takeMessage(window, message);
      takePage(window, page('L', lastSeq, [{ seq: 3, data: 'c' }]));
      expect([why, data(window, 3)]).toEqual([why, undefined]);
      expect([why, data(window, 2)]).toEqual([why, ['3:c']]);
    }
    // The read already holds what was published: nothing twice.
    const caught: RemoteWindow = { confirmed: undefined, entries: [] };
    takeMessage(caught, '["a","L",3,"d","","c"]');
    takePage(caught, page('L', 3, [{ seq: 2, data: 'b' }, { seq: 3, data: 'c' }]));
    expect(data(caught, 1)).toEqual(['2:b', '3:c']);
  });
});

const run = redisServerAvailable('redisRemoteWindow.spec') ? describe : describe.skip;

run('redisRelayStore: readers on another instance get published entries without a read (real redis-server)', () => {
  let server: RedisServer;
  const clients: Array<ReturnType<typeof createClient>> = [];
  let producer: RelayStore;
  let remote: RelayStore;
  let remoteCommands = 0;
  let following: Subscription | undefined;
  afterEach(() => following?.unsubscribe());

  beforeAll(async () => {
    server = await startRedisServer();
    for (let n = 0; n < 2; n++) {
      const client = createClient({ url: server.url });
      client.on('error', () => undefined);
      await client.connect();
      clients.push(client);
    }
    const counted = clients[1]!;
    const send = counted.sendCommand.bind(counted);
    (counted as { sendCommand: unknown }).sendCommand = (...args: Parameters<typeof send>) => {
      remoteCommands++;
      return send(...args);
    };
    producer = redisRelayStore(clients[0]!);
    remote = redisRelayStore(counted);
  }, 30_000);

  afterAll(async () => {
    await producer?.close?.();
    await remote?.close?.();
    for (const client of clients) client.destroy();
    await server?.stop();
  });

  it('small writes come with their entries: the follower reads them from memory, the same bytes as from Redis', async () => {
    const claim = await producer.claim('published', { leaseMs: 10_000, ttlMs: 60_000 });
    if (claim.status !== 'created') throw new Error(claim.status);
    await producer.append(claim.lease, [{ data: 'a' }, { event: 'x', data: 'b' }]);
    // One follower for the whole test, as a relay reader holds one.
    const changes = new Subject<void>();
    following = remote.changes('published').subscribe(changes);
    // A first read from Redis (once the follower's channel is subscribed) confirms the log.
    expect((await remote.read('published', 0, 64))?.entries.map((entry) => entry.data)).toEqual(['a', 'b']);
    const before = remoteCommands;
    const told = firstValueFrom(changes.pipe(timeout(15_000)));
    await producer.append(claim.lease, [{ data: 'c' }, { event: 'y', data: 'é中🚀' }]);
    await told;
    const served = await remote.read('published', 2, 64);
    expect(remoteCommands - before).toBe(0);
    expect(JSON.stringify(served?.entries)).toBe(JSON.stringify((await producer.read('published', 2, 64))?.entries));
    expect(JSON.stringify(served?.entries)).toBe(JSON.stringify([{ seq: 3, data: 'c' }, { seq: 4, data: 'é中🚀', event: 'y' }]));
    // The terminal entry comes the same way; past it, Redis answers (the terminal entry again).
    const ended = firstValueFrom(changes.pipe(timeout(15_000)));
    await producer.end(claim.lease, { event: 'done', data: '[DONE]' }, 60_000);
    await ended;
    const beforeEnd = remoteCommands;
    expect((await remote.read('published', 4, 64))?.entries).toEqual([{ seq: 5, event: 'done', data: '[DONE]', end: true }]);
    expect(remoteCommands - beforeEnd).toBe(0);
    expect((await remote.read('published', 9, 64))?.entries).toEqual([{ seq: 5, event: 'done', data: '[DONE]', end: true }]);
  });

  it("a follower's first read waits for its channel's subscription, so the subscription's answer costs no second read", async () => {
    // Its own store on the counted client, with a safety net too far off to wake the follower during the test.
    const store = redisRelayStore(clients[1]!, { blockMs: 60_000 });
    try {
      const claim = await producer.claim('first-read', { leaseMs: 10_000, ttlMs: 60_000 });
      if (claim.status !== 'created') throw new Error(claim.status);
      await producer.append(claim.lease, [{ data: 'a' }, { data: 'b' }]);
      const before = remoteCommands;
      // A follower as a relay reader is one: told of a change, it reads on from where it is.
      let after = 0;
      const reads: Array<Promise<unknown>> = [];
      const readOn = () => {
        reads.push(store.read('first-read', after, 64).then((page) => (after = Math.max(after, page?.lastSeq ?? 0))));
      };
      following = store.changes('first-read').subscribe(readOn);
      const first = await store.read('first-read', 0, 64);
      after = first?.lastSeq ?? 0;
      expect(first?.entries.map((entry) => entry.data)).toEqual(['a', 'b']);
      // Time for the subscription's answer, had it woken the follower: before, that was a second read from Redis.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await Promise.all(reads);
      expect(remoteCommands - before).toBe(1);
      // A write after the read reaches the follower by its notification, and from memory.
      await producer.append(claim.lease, [{ data: 'c' }]);
      for (let waited = 0; after < 3 && waited < 15_000; waited += 20) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        await Promise.all(reads);
      }
      expect(after).toBe(3);
      expect(remoteCommands - before).toBe(1);
    } finally {
      following?.unsubscribe();
      await store.close?.();
    }
  });

  it('the safety net wakes the followers of a quiet stream, never those of a stream that keeps publishing', async () => {
    const blockMs = 600;
    const store = redisRelayStore(clients[1]!, { blockMs });
    try {
      const claim = await producer.claim('poked', { leaseMs: 30_000, ttlMs: 60_000 });
      if (claim.status !== 'created') throw new Error(claim.status);
      await producer.append(claim.lease, [{ data: 'a' }]);
      let told = 0;
      following = store.changes('poked').subscribe(() => told++);
      // Answered once the follower's channel is subscribed.
      await store.read('poked', 0, 64);
      told = 0;
      // A write every 20 ms for eight blockMs: one notification each. Before, the safety net woke the follower
      // every blockMs on top (a read from Redis per follower, all at once).
      let appends = 0;
      const until = Date.now() + 8 * blockMs;
      while (Date.now() < until) {
        await producer.append(claim.lease, [{ data: 'x' }]);
        appends++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      for (let waited = 0; told < appends && waited < 15_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
      // At most what a pause of more than half blockMs between two writes (a loaded machine) legitimately adds.
      expect(told - appends).toBeGreaterThanOrEqual(0);
      expect(told - appends).toBeLessThanOrEqual(2);
      // Quiet now: woken about every blockMs (checked every quarter blockMs), as before; not more often.
      const quietAt = told;
      await new Promise((resolve) => setTimeout(resolve, 3 * blockMs));
      expect(told - quietAt).toBeGreaterThanOrEqual(1);
      expect(told - quietAt).toBeLessThanOrEqual(4);
    } finally {
      following?.unsubscribe();
      await store.close?.();
    }
  });

  it('a large write publishes only its seq: the follower reads Redis, and gets the same entries', async () => {
    const claim = await producer.claim('large', { leaseMs: 10_000, ttlMs: 60_000 });
    if (claim.status !== 'created') throw new Error(claim.status);
    await producer.append(claim.lease, [{ data: 'a' }]);
    const changes = new Subject<void>();
    following = remote.changes('large').subscribe(changes);
    expect((await remote.read('large', 0, 64))?.entries.map((entry) => entry.data)).toEqual(['a']);
    const big = 'z'.repeat(20_000);
    const told = firstValueFrom(changes.pipe(timeout(15_000)));
    await producer.append(claim.lease, [{ data: big }]);
    await told;
    const before = remoteCommands;
    expect((await remote.read('large', 1, 64))?.entries).toEqual([{ seq: 2, data: big }]);
    expect(remoteCommands - before).toBe(1);
  });
});
