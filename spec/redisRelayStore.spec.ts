import { firstValueFrom } from 'rxjs';
import { createClient } from 'redis';
import {
  redisRelayStore,
  RelayLeaseLostError,
  RelayLogFullError,
  type RelayLease,
  type RelayStore,
} from '../src/server/index';
import { RELAY_TAKEOVER_SKIP } from '../src/server/relayStore';
import { followStore } from './support/followStore';
import { waitFor } from './support/loopbackServer';
import { selectedFlavours, type TestClient } from './support/redisClients';
import { redisServerAvailable, startRedisServer, type RedisServer } from './support/redisServer';

const run = redisServerAvailable('redisRelayStore.spec') ? describe : describe.skip;
const claimOptions = { leaseMs: 10_000, ttlMs: 60_000 };
let counter = 0;
const freshId = () => `s${process.pid}-${++counter}`;

/** Reads `streamId` as a relay reader does, until the terminal entry. */
const follow = async (store: RelayStore, streamId: string) => (await followStore(store, streamId)).entries;

run('redisRelayStore (real redis-server)', () => {
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

  /** Script calls redis-server ran so far (`EVALSHA` and `EVAL`). */
  const evalCalls = async () => {
    const stats = String(await admin.sendCommand(['INFO', 'commandstats']));
    return [...stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
  };

  /** Subscribers of a Redis channel (`PUBSUB NUMSUB`), and the change channel of a stream. */
  const subscribersOf = async (name: string) => Number(((await admin.sendCommand(['PUBSUB', 'NUMSUB', name])) as [string, number])[1]);
  const channel = (id: string) => `rxjs-llm-stream:relay:{${id}}:changes`;

  it('rejects a wrong or disconnected client with a TypeError, before sending anything', async () => {
    expect(() => redisRelayStore({} as object)).toThrow(TypeError);
    expect(() => redisRelayStore(null as unknown as object)).toThrow(/expected a connected node-redis client/);
    const unconnected = createClient({ url: server.url });
    expect(() => redisRelayStore(unconnected)).toThrow(/not connected; await client.connect\(\) first/);
    const { Redis } = await import('ioredis');
    const lazy = new Redis(server.url, { lazyConnect: true });
    expect(() => redisRelayStore(lazy)).toThrow(/ioredis client is not connected/);
    lazy.disconnect();
    expect(() => redisRelayStore({ client: unconnected, kind: 'ioredis' })).toThrow(/named "ioredis" but looks like node-redis/);
    expect(() => redisRelayStore(admin, { maxEntries: 0 })).toThrow(/maxEntries must be a positive number/);
  });

  describe.each(selectedFlavours().map((flavour) => [flavour.name, flavour] as const))('%s', (_name, flavour) => {
    let a: TestClient;
    let b: TestClient;
    let producer: RelayStore;
    let remote: RelayStore;

    beforeAll(async () => {
      a = await flavour.connect(server.url);
      b = await flavour.connect(server.url);
      producer = redisRelayStore(a.client);
      remote = redisRelayStore({ client: b.client, kind: flavour.kind });
    });

    afterAll(async () => {
      await producer?.close?.();
      await remote?.close?.();
      await a?.close();
      await b?.close();
    });

    it('claims, appends 1, 2, 3 …, ends, and reads the same entries on the producing and on another instance', async () => {
      const id = freshId();
      const claim = await producer.claim(id, claimOptions);
      expect(claim.status).toBe('created');
      if (claim.status !== 'created') return;
      expect(claim.lease.epoch).toBe(1);
      expect(claim.lease.log).toMatch(/^[0-9a-f]{16}$/);
      const local = follow(producer, id);
      const far = follow(remote, id);
      expect(await producer.append(claim.lease, [{ data: 'a' }])).toBe(1);
      expect(await producer.append(claim.lease, [{ data: 'b', event: 'x' }, { data: '"c\\n"\n' }], 'r1')).toBe(3);
      expect(await producer.end(claim.lease, { event: 'done', data: '{}' }, 60_000)).toBe(4);
      const expected = [
        { seq: 1, data: 'a' },
        { seq: 2, data: 'b', event: 'x' },
        { seq: 3, data: '"c\\n"\n' },
        { seq: 4, data: '{}', event: 'done', end: true },
      ];
      const [mine, theirs] = await Promise.all([local, far]);
      expect(mine).toEqual(expected);
      expect(JSON.stringify(theirs)).toBe(JSON.stringify(mine));
      // At or past the terminal entry: the terminal entry again, on both paths.
      for (const store of [producer, remote]) {
        for (const after of [4, 9]) expect((await store.read(id, after, 10))?.entries).toEqual([expected[3]]);
        expect(await store.state(id)).toEqual({ log: claim.lease.log, lastSeq: 4, ended: true, leased: false, owner: undefined });
      }
      expect(await remote.claim(id, claimOptions)).toEqual({ status: 'ended' });
      // The Redis log itself: entry ids are <seq>-0.
      const ids = (await admin.sendCommand(['XRANGE', `rxjs-llm-stream:relay:{${id}}:log`, '-', '+'])) as Array<[string, string[]]>;
      expect(ids.map(([entryId]) => entryId)).toEqual(['1-0', '2-0', '3-0', '4-0']);
    });

    it('fences writes by lease: held, release, takeover with the same log, next seq, resume point and a higher epoch', async () => {
      const id = freshId();
      const first = await producer.claim(id, { ...claimOptions, owner: 'u1' });
      if (first.status !== 'created') throw new Error(first.status);
      await producer.append(first.lease, [{ data: 'one' }, { data: 'two' }], 'cursor-2');
      expect(await remote.claim(id, { ...claimOptions, owner: 'u1' })).toEqual({ status: 'held' });
      expect(await remote.claim(id, { ...claimOptions, owner: 'u2' })).toEqual({ status: 'forbidden' });
      expect(await remote.claim(id, claimOptions)).toEqual({ status: 'forbidden' });
      await producer.release(first.lease);
      const second = await remote.claim(id, { ...claimOptions, owner: 'u1' });
      expect(second).toMatchObject({ status: 'takenOver', lastSeq: 2, resume: 'cursor-2' });
      if (second.status !== 'takenOver') return;
      expect(second.lease.log).toBe(first.lease.log);
      expect(second.lease.epoch).toBe(2);
      await expect(producer.append(first.lease, [{ data: 'stale' }])).rejects.toBeInstanceOf(RelayLeaseLostError);
      expect(await producer.renew(first.lease)).toBe(false);
      await expect(producer.end(first.lease, { data: 'stale end' }, 1_000)).rejects.toBeInstanceOf(RelayLeaseLostError);
      await producer.release(first.lease); // does nothing
      // Numbered past the RELAY_TAKEOVER_SKIP numbers a takeover skips (the store shows entries before storing them).
      expect(await remote.append(second.lease, [{ data: 'three' }])).toBe(3 + RELAY_TAKEOVER_SKIP);
      expect(await remote.renew(second.lease)).toBe(true);
      const page = await producer.read(id, 0, 10);
      expect(page?.entries.map((entry) => entry.data)).toEqual(['one', 'two', 'three']);
      expect(page).toMatchObject({ log: first.lease.log, lastSeq: 3 + RELAY_TAKEOVER_SKIP, ended: false, leased: true, owner: 'u1' });
    });

    it('takes over a log whose lease lapsed, and the lapsed producer writes nothing more', async () => {
      const id = freshId();
      const first = await producer.claim(id, { leaseMs: 60_000, ttlMs: 60_000 });
      if (first.status !== 'created') throw new Error(first.status);
      await producer.append(first.lease, [{ data: 'x' }]);
      // The lease lapses (its key expires; no renewal came), whatever the machine's speed.
      await admin.sendCommand(['PEXPIRE', `rxjs-llm-stream:relay:{${id}}:lease`, '1']);
      for (let i = 0; i < 100 && Number(await admin.sendCommand(['EXISTS', `rxjs-llm-stream:relay:{${id}}:lease`])) === 1; i++) await new Promise((wait) => setTimeout(wait, 20));
      expect((await remote.state(id))?.leased).toBe(false);
      const second = await remote.claim(id, claimOptions);
      expect(second).toMatchObject({ status: 'takenOver', lastSeq: 1 });
      expect(second).not.toHaveProperty('resume');
      await expect(producer.append(first.lease, [{ data: 'late' }])).rejects.toBeInstanceOf(RelayLeaseLostError);
      expect((await remote.read(id, 0, 10))?.entries.map((entry) => entry.data)).toEqual(['x']);
    });

    it('extends the log from its last write, and never re-creates an expired log', async () => {
      const id = freshId();
      const claim = await producer.claim(id, { leaseMs: 60_000, ttlMs: 60_000 });
      if (claim.status !== 'created') throw new Error(claim.status);
      const key = (part: string) => `rxjs-llm-stream:relay:{${id}}:${part}`;
      const pttl = async (part: string) => Number(await admin.sendCommand(['PTTL', key(part)]));
      await producer.append(claim.lease, [{ data: 'first' }]);
      // Shorten the log's life behind the store's back; every write sets it to ttlMs from now again.
      for (const write of [() => producer.append(claim.lease, [{ data: 'again' }]), () => producer.renew(claim.lease)]) {
        for (const part of ['meta', 'log']) await admin.sendCommand(['PEXPIRE', key(part), '5000']);
        await write();
        for (const part of ['meta', 'log']) expect(await pttl(part)).toBeGreaterThan(5_000);
      }
      // The log expires (its keys go, the lease key aside): writes reject and re-create nothing.
      for (const part of ['meta', 'log']) await admin.sendCommand(['PEXPIRE', key(part), '1']);
      const keysOf = () => admin.sendCommand(['KEYS', `rxjs-llm-stream:relay:{${id}}:*`]) as Promise<string[]>;
      for (let i = 0; i < 100 && (await keysOf()).some((name) => !name.endsWith(':lease')); i++) await new Promise((wait) => setTimeout(wait, 50));
      expect(await remote.read(id, 0, 10)).toBeUndefined();
      await expect(producer.append(claim.lease, [{ data: 'after expiry' }])).rejects.toBeInstanceOf(RelayLeaseLostError);
      await expect(producer.end(claim.lease, { data: 'end' }, 1_000)).rejects.toBeInstanceOf(RelayLeaseLostError);
      expect(await producer.renew(claim.lease)).toBe(false);
      expect((await keysOf()).filter((name) => !name.endsWith(':lease'))).toEqual([]);
    });

    it('writes nothing for an unknown id (read, state, touch, lastSeen, changes)', async () => {
      const id = freshId();
      const before = Number(await admin.sendCommand(['DBSIZE']));
      expect(await remote.read(id, 0, 10)).toBeUndefined();
      expect(await remote.state(id)).toBeUndefined();
      await remote.touch(id, 10_000);
      expect(await remote.lastSeen(id)).toBeUndefined();
      const subscription = remote.changes(id).subscribe({ error: () => undefined });
      await new Promise((wait) => setTimeout(wait, 100));
      subscription.unsubscribe();
      // Other cases' keys may expire meanwhile: the count never grows, and nothing names this id.
      expect(Number(await admin.sendCommand(['DBSIZE']))).toBeLessThanOrEqual(before);
      expect(await admin.sendCommand(['KEYS', `*${id}*`])).toEqual([]);
    });

    it('records when a client last read a known stream', async () => {
      const id = freshId();
      const claim = await producer.claim(id, claimOptions);
      if (claim.status !== 'created') throw new Error(claim.status);
      const before = Date.now();
      await remote.touch(id, 10_000);
      const seen = await producer.lastSeen(id);
      expect(seen).toBeGreaterThanOrEqual(before);
      expect(seen).toBeLessThanOrEqual(Date.now());
    });

    it('keeps a read of a stream it produces in memory, where its producer asks, and writes it to Redis when it releases the log', async () => {
      const id = freshId();
      const seenKey = `rxjs-llm-stream:relay:{${id}}:seen`;
      const claim = await producer.claim(id, claimOptions);
      if (claim.status !== 'created') throw new Error(claim.status);
      const before = Date.now();
      await producer.touch(id, 10_000);
      expect(await admin.sendCommand(['GET', seenKey])).toBeNull();
      const seen = await producer.lastSeen(id);
      expect(seen).toBeGreaterThanOrEqual(before);
      // A read recorded in Redis by another instance counts too: the later of both.
      await new Promise((wait) => setTimeout(wait, 5));
      await remote.touch(id, 10_000);
      const later = Number(await admin.sendCommand(['GET', seenKey]));
      expect(later).toBeGreaterThan(seen!);
      expect(await producer.lastSeen(id)).toBe(later);
      await new Promise((wait) => setTimeout(wait, 5));
      await producer.touch(id, 10_000);
      const last = (await producer.lastSeen(id))!;
      expect(last).toBeGreaterThan(later);
      // Released (a shutdown): the read kept here goes to Redis, for whoever takes the stream over.
      await producer.release(claim.lease);
      const deadline = Date.now() + 10_000;
      while (Number(await admin.sendCommand(['GET', seenKey])) !== last && Date.now() < deadline) await new Promise((wait) => setTimeout(wait, 10));
      expect(await remote.lastSeen(id)).toBe(last);
    });

    it('keeps in memory the read of a stream that ended here too (a reader opening after the end): no round trip', async () => {
      const id = freshId();
      const claim = await producer.claim(id, claimOptions);
      if (claim.status !== 'created') throw new Error(claim.status);
      await producer.append(claim.lease, [{ data: 'a' }]);
      await producer.end(claim.lease, { event: 'done', data: '[DONE]' }, 60_000);
      const before = Date.now();
      await producer.touch(id, 10_000);
      expect(await admin.sendCommand(['GET', `rxjs-llm-stream:relay:{${id}}:seen`])).toBeNull();
      expect(await producer.lastSeen(id)).toBeGreaterThanOrEqual(before);
      // On another instance, a read is written to Redis as before.
      await remote.touch(id, 10_000);
      expect(Number(await admin.sendCommand(['GET', `rxjs-llm-stream:relay:{${id}}:seen`]))).toBeGreaterThanOrEqual(before);
    });

    it('records a read in the read itself when asked (seen), only for the log’s owner, and marks the page', async () => {
      const mine = freshId();
      const seenKey = (id: string) => `rxjs-llm-stream:relay:{${id}}:seen`;
      const claim = await producer.claim(mine, { ...claimOptions, owner: 'user-7' });
      if (claim.status !== 'created') throw new Error(claim.status);
      await producer.append(claim.lease, [{ data: 'a' }]);
      // Not asked: nothing recorded, as before.
      expect((await remote.read(mine, 0, 10))?.seen).toBeUndefined();
      expect(await admin.sendCommand(['GET', seenKey(mine)])).toBeNull();
      // Another owner, or none, for an owned log: read, not recorded.
      for (const owner of ['user-8', undefined]) {
        const page = await remote.read(mine, 0, 10, { ttlMs: 10_000, owner });
        expect(page).toMatchObject({ entries: [{ seq: 1, data: 'a' }], owner: 'user-7' });
        expect(page?.seen).toBeUndefined();
      }
      expect(await admin.sendCommand(['GET', seenKey(mine)])).toBeNull();
      const before = Date.now();
      const page = await remote.read(mine, 0, 10, { ttlMs: 10_000, owner: 'user-7' });
      expect(page).toMatchObject({ entries: [{ seq: 1, data: 'a' }], seen: true });
      expect(Number(await admin.sendCommand(['GET', seenKey(mine)]))).toBeGreaterThanOrEqual(before);
      expect(Number(await admin.sendCommand(['PTTL', seenKey(mine)]))).toBeGreaterThan(5_000);
      // A log with no owner: any reader's read is recorded. An unknown id: nothing is written.
      const open = freshId();
      const openClaim = await producer.claim(open, claimOptions);
      if (openClaim.status !== 'created') throw new Error(openClaim.status);
      expect((await remote.read(open, 0, 10, { ttlMs: 10_000, owner: 'anyone' }))?.seen).toBe(true);
      const unknown = freshId();
      expect(await remote.read(unknown, 0, 10, { ttlMs: 10_000, owner: undefined })).toBeUndefined();
      expect(await admin.sendCommand(['EXISTS', seenKey(unknown)])).toBe(0);
    });

    it('rejects an append past maxEntries or maxBytes with RelayLogFullError, appending nothing; the terminal entry still fits', async () => {
      const small = redisRelayStore(a.client, { maxEntries: 3, maxBytes: 10 });
      const id = freshId();
      const claim = await small.claim(id, claimOptions);
      if (claim.status !== 'created') throw new Error(claim.status);
      expect(await small.append(claim.lease, [{ data: 'ab' }, { data: 'cd' }])).toBe(2);
      await expect(small.append(claim.lease, [{ data: 'e' }, { data: 'f' }])).rejects.toEqual(new RelayLogFullError('maxEntries', 3));
      await expect(small.append(claim.lease, [{ data: '0123456789' }])).rejects.toMatchObject({ name: 'RelayLogFullError', limit: 'maxBytes' });
      expect(await small.end(claim.lease, { event: 'error', data: 'full' }, 10_000)).toBe(3);
      expect((await remote.read(id, 0, 10))?.entries.map((entry) => entry.data)).toEqual(['ab', 'cd', 'full']);
      await small.close?.();
    });

    it('loads its scripts again after SCRIPT FLUSH (EVALSHA, then EVAL on NOSCRIPT)', async () => {
      const id = freshId();
      await admin.sendCommand(['SCRIPT', 'FLUSH']);
      const claim = await producer.claim(id, claimOptions);
      if (claim.status !== 'created') throw new Error(claim.status);
      await admin.sendCommand(['SCRIPT', 'FLUSH']);
      expect(await producer.append(claim.lease, [{ data: 'after flush' }])).toBe(1);
    });

    it('appends of different streams do not wait for each other (pipelined on one connection)', async () => {
      const leases: RelayLease[] = [];
      for (let i = 0; i < 20; i++) {
        const claim = await producer.claim(freshId(), claimOptions);
        if (claim.status !== 'created') throw new Error(claim.status);
        leases.push(claim.lease);
      }
      const clientsBefore = Number(/connected_clients:(\d+)/.exec(String(await admin.sendCommand(['INFO', 'clients'])))![1]);
      const seqs = await Promise.all(leases.flatMap((lease) => [producer.append(lease, [{ data: '1' }]), producer.append(lease, [{ data: '2' }])]));
      expect(seqs).toEqual(leases.flatMap(() => [1, 2]));
      const clientsAfter = Number(/connected_clients:(\d+)/.exec(String(await admin.sendCommand(['INFO', 'clients'])))![1]);
      expect(clientsAfter).toBe(clientsBefore);
    });

    it('claims of many streams made at once share script calls, each stream with its own answer', async () => {
      const held = freshId();
      const owned = freshId();
      const ended = freshId();
      const endedClaim = await producer.claim(ended, claimOptions);
      if (endedClaim.status !== 'created') throw new Error(endedClaim.status);
      await producer.end(endedClaim.lease, { data: 'done' }, 60_000);
      expect((await producer.claim(held, claimOptions)).status).toBe('created');
      expect((await producer.claim(owned, { ...claimOptions, owner: 'user 7' })).status).toBe('created');
      const fresh = Array.from({ length: 100 }, () => freshId());
      const callsBefore = await evalCalls();
      const claims = await Promise.all([
        ...fresh.map((id, i) => producer.claim(id, i % 2 === 0 ? claimOptions : { ...claimOptions, owner: `user ${i}` })),
        producer.claim(held, claimOptions),
        producer.claim(owned, { ...claimOptions, owner: 'user 8' }),
        producer.claim(ended, claimOptions),
      ]);
      expect((await evalCalls()) - callsBefore).toBeLessThan(50);
      expect(claims.slice(100).map((claim) => claim.status)).toEqual(['held', 'forbidden', 'ended']);
      for (const [i, claim] of claims.slice(0, 100).entries()) {
        if (claim.status !== 'created') throw new Error(`${fresh[i]}: ${claim.status}`);
        expect(claim.lease).toMatchObject({ streamId: fresh[i], epoch: 1 });
        expect(await producer.append(claim.lease, [{ data: `first of ${i}` }])).toBe(1);
      }
      expect((await remote.read(fresh[1]!, 0, 10, { ttlMs: 10_000, owner: 'user 1' }))?.entries).toEqual([{ seq: 1, data: 'first of 1' }]);
      expect((await remote.read(fresh[1]!, 0, 10))?.owner).toBe('user 1');
      expect((await remote.read(fresh[0]!, 0, 10))?.owner).toBeUndefined();
    });

    it('appends of many streams made at once share script calls, each stream with its own answer and exact entries', async () => {
      const small = redisRelayStore(a.client, { maxEntries: 5 });
      const leases: RelayLease[] = [];
      for (let i = 0; i < 200; i++) {
        const claim = await small.claim(freshId(), claimOptions);
        if (claim.status !== 'created') throw new Error(claim.status);
        leases.push(claim.lease);
      }
      // One lease no longer holds (another token), one append is past maxEntries: only those two fail.
      const stale = { ...leases[150]!, token: 'f'.repeat(32) };
      const callsBefore = await evalCalls();
      const answers = await Promise.allSettled(
        leases.map((lease, i) =>
          i === 150
            ? small.append(stale, [{ data: 'lost' }])
            : i === 170
              ? small.append(lease, Array.from({ length: 6 }, () => ({ data: 'x' })))
              : small.append(lease, [{ event: 'δelta:中', data: `${i}:é "q"` }, { data: `plain ${i}` }]),
        ),
      );
      const calls = (await evalCalls()) - callsBefore;
      expect(calls).toBeLessThan(50);
      expect(answers[150]).toMatchObject({ status: 'rejected', reason: expect.any(RelayLeaseLostError) });
      expect(answers[170]).toMatchObject({ status: 'rejected', reason: new RelayLogFullError('maxEntries', 5) });
      for (const i of [0, 15, 16, 17, 100, 149, 151, 199]) {
        expect(answers[i]).toEqual({ status: 'fulfilled', value: 2 });
        const page = await remote.read(leases[i]!.streamId, 0, 10);
        expect(page?.entries).toEqual([
          { seq: 1, event: 'δelta:中', data: `${i}:é "q"` },
          { seq: 2, data: `plain ${i}` },
        ]);
      }
      expect(answers.filter((answer) => answer.status === 'fulfilled')).toHaveLength(198);
      expect((await remote.read(leases[150]!.streamId, 0, 10))?.entries).toEqual([]);
      expect((await remote.read(leases[170]!.streamId, 0, 10))?.entries).toEqual([]);
      await small.close?.();
    });

    it('a reader that leaves before its channel is subscribed leaves no subscription behind', async () => {
      // The follow connection is open, as once this instance has followed anything.
      const warm = freshId();
      const warming = remote.changes(warm).subscribe({ error: () => undefined });
      await waitFor(async () => (await subscribersOf(channel(warm))) === 1);
      warming.unsubscribe();
      // Lets queued promise callbacks run, with no I/O in between: a SUBSCRIBE sent meanwhile is not answered yet.
      const microtasks = async () => {
        for (let turn = 0; turn < 5; turn++) await Promise.resolve();
      };
      const ids = Array.from({ length: 6 }, () => freshId());
      for (const [index, id] of ids.entries()) {
        const reader = remote.changes(id).subscribe({ error: () => undefined });
        // Half leave at once (no SUBSCRIBE is sent); half once theirs is sent, before it can be answered (no I/O
        // between microtasks): it lands after, and is undone then.
        if (index % 2 === 1) await microtasks();
        reader.unsubscribe();
      }
      // A channel watched again while the first SUBSCRIBE is on its way stays subscribed for its new reader.
      const again = freshId();
      const first = remote.changes(again).subscribe({ error: () => undefined });
      await microtasks();
      first.unsubscribe();
      const staying = remote.changes(again).subscribe({ error: () => undefined });
      await waitFor(async () => (await subscribersOf(channel(again))) === 1);
      await new Promise((wait) => setTimeout(wait, 200));
      expect(await subscribersOf(channel(again))).toBe(1);
      for (const id of ids) expect(await subscribersOf(channel(id))).toBe(0);
      staying.unsubscribe();
      await waitFor(async () => (await subscribersOf(channel(again))) === 0);
    });

    it('a reader on the producing instance is told of an append at once, from memory', async () => {
      const id = freshId();
      const claim = await producer.claim(id, claimOptions);
      if (claim.status !== 'created') throw new Error(claim.status);
      const told = firstValueFrom(producer.changes(id));
      await producer.append(claim.lease, [{ data: 'now' }]);
      await told;
      // Served from memory: Redis is not asked (MONITOR-free check: the read does not wait on a server that is paused).
      await admin.sendCommand(['CLIENT', 'PAUSE', '2000', 'ALL']);
      const page = await Promise.race([producer.read(id, 0, 10), new Promise((resolve) => setTimeout(() => resolve('waited'), 1_000))]);
      await admin.sendCommand(['CLIENT', 'UNPAUSE']).catch(() => undefined);
      expect(page).toMatchObject({ entries: [{ seq: 1, data: 'now' }], lastSeq: 1, leased: true });
    });
  });

  it("appends a stream no other instance follows on the loop's next turn, gathered; one followed elsewhere at once", async () => {
    const client = createClient({ url: server.url });
    await client.connect();
    const scripts: string[][] = [];
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((args: string[], ...rest: unknown[]) => {
      if (args[0] === 'EVALSHA' || args[0] === 'EVAL') scripts.push(args);
      return (send as (...all: unknown[]) => unknown)(args, ...rest);
    }) as typeof client.sendCommand;
    const other = createClient({ url: server.url });
    await other.connect();
    const store = redisRelayStore(client);
    const elsewhere = redisRelayStore(other);
    try {
      const [x, y, z] = [freshId(), freshId(), freshId()];
      const leases = await Promise.all(
        [x, y, z].map(async (id) => {
          const claim = await store.claim(id, claimOptions);
          if (claim.status !== 'created') throw new Error(claim.status);
          return claim.lease;
        }),
      );
      const [lx, ly, lz] = leases as [RelayLease, RelayLease, RelayLease];
      const far = follow(elsewhere, z);
      await waitFor(async () => (await subscribersOf(channel(z))) === 1);
      // The first appends go at once (a stream is taken as followed until an append says otherwise).
      await Promise.all([store.append(lx, [{ data: 'a' }]), store.append(ly, [{ data: 'a' }]), store.append(lz, [{ data: 'a' }])]);
      scripts.length = 0;
      const second = [store.append(lx, [{ data: 'b' }]), store.append(ly, [{ data: 'b' }]), store.append(lz, [{ data: 'b' }])];
      const keysOf = (args: string[]) => args.slice(3, 3 + Number(args[2]));
      const meta = (id: string) => `rxjs-llm-stream:relay:{${id}}:meta`;
      expect(scripts.map(keysOf)).toEqual([[meta(z)]]);
      expect(await Promise.all(second)).toEqual([2, 2, 2]);
      expect(scripts.map(keysOf)).toEqual([[meta(z)], [meta(x), meta(y)]]);
      await Promise.all(leases.map((lease) => store.end(lease, { event: 'done', data: '{}' }, 60_000)));
      expect((await far).map((entry) => entry.data)).toEqual(['a', 'b', '{}']);
      expect(await follow(store, x)).toEqual([
        { seq: 1, data: 'a' },
        { seq: 2, data: 'b' },
        { seq: 3, data: '{}', event: 'done', end: true },
      ]);
    } finally {
      await store.close?.();
      await elsewhere.close?.();
      client.destroy();
      other.destroy();
    }
  });
});
