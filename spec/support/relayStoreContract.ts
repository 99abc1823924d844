import { firstValueFrom, take, timeout } from 'rxjs';
import {
  RELAY_TAKEOVER_SKIP,
  RelayLeaseLostError,
  type RelayClaim,
  type RelayLease,
  type RelayStore,
} from '../../src/server/relayStore';

/** What a store under test may need to know: nothing, or how to clean up. */
export interface RelayStoreContractOptions {
  /** Called after each test with the store it made (close its client, ...). */
  dispose?: (store: RelayStore) => void | Promise<void>;
}

/** Waits until `check()` is true, polling every 25 ms, or fails after `ms`. */
async function eventually(check: () => boolean | Promise<boolean>, ms = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((wait) => setTimeout(wait, 25));
  }
}

const pause = (ms: number) => new Promise((wait) => setTimeout(wait, ms));

/** The numbers a store skips at a takeover: `RELAY_TAKEOVER_SKIP` for a store that shows entries before storing them, else none. */
function skipOf(store: RelayStore): number {
  return store.offer ? RELAY_TAKEOVER_SKIP : 0;
}

function leaseOf(claim: RelayClaim): RelayLease {
  if (claim.status !== 'created' && claim.status !== 'takenOver') throw new Error(`expected a lease, got status ${claim.status}`);
  return claim.lease;
}

/** Generous on a loaded machine: a lease that lapses only when it is meant to. */
const LEASE = 3_000;
const TTL = 60_000;

/**
 * The semantics every `RelayStore` keeps (src/server/relayStore.ts), as one
 * jest `describe`: claim statuses, fencing after takeover, epoch growth,
 * numbering and the resume point on takeover, lifetime from the last write
 * (and no re-creation), paging and the terminal entry again, nothing written
 * for unknown ids, `changes` emitting. Run it for each store:
 *
 * ```ts
 * describeRelayStoreContract('memoryRelayStore', () => memoryRelayStore());
 * ```
 *
 * Every test uses its own stream ids, so one store (or one Redis database)
 * may serve them all; `makeStore` is called once per test all the same.
 */
export function describeRelayStoreContract(
  name: string,
  makeStore: () => RelayStore | Promise<RelayStore>,
  options: RelayStoreContractOptions = {},
): void {
  describe(`RelayStore contract: ${name}`, () => {
    jest.setTimeout(60_000);
    let store: RelayStore;
    let prefix: string;
    let count = 0;
    const id = (label: string) => `${prefix}:${label}:${++count}`;

    beforeEach(async () => {
      store = await makeStore();
      prefix = `contract-${Math.random().toString(36).slice(2, 10)}`;
    });
    afterEach(async () => {
      await options.dispose?.(store);
      await store.close?.();
    });

    it('claim creates a log (epoch 1, empty, leased) and answers held to a second claim, writing nothing', async () => {
      const streamId = id('create');
      const first = await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL });
      expect(first.status).toBe('created');
      const lease = leaseOf(first);
      expect(lease).toMatchObject({ streamId, epoch: 1, leaseMs: LEASE, ttlMs: TTL });
      expect(lease.log).toMatch(/^[^-\s]{4,}$/);
      expect(typeof lease.token).toBe('string');
      expect(await store.state(streamId)).toEqual(expect.objectContaining({ log: lease.log, lastSeq: 0, ended: false, leased: true }));
      expect(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL })).toEqual({ status: 'held' });
      expect((await store.state(streamId))?.lastSeq).toBe(0);
    });

    it('lets exactly one of many simultaneous claims create the log; the log exists when any claim answers', async () => {
      const streamId = id('race');
      const claims = await Promise.all(Array.from({ length: 20 }, () => store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL })));
      expect(claims.filter((claim) => claim.status === 'created')).toHaveLength(1);
      expect(claims.filter((claim) => claim.status === 'held')).toHaveLength(19);
      expect(await store.read(streamId, 0, 10)).toEqual(expect.objectContaining({ lastSeq: 0, ended: false }));
    });

    it('gives every log a name of its own: another stream id, or the same id after its log expired', async () => {
      const a = leaseOf(await store.claim(id('names'), { leaseMs: LEASE, ttlMs: TTL }));
      const reused = id('names');
      const b = leaseOf(await store.claim(reused, { leaseMs: 200, ttlMs: 300 }));
      expect(b.log).not.toBe(a.log);
      await eventually(async () => (await store.state(reused)) === undefined, 15_000, 'the log to expire');
      const c = leaseOf(await store.claim(reused, { leaseMs: LEASE, ttlMs: TTL }));
      expect(c.epoch).toBe(1);
      expect(c.log).not.toBe(b.log);
    });

    it('appends in order, numbering from 1, and pages through the log with read', async () => {
      const streamId = id('append');
      const lease = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      expect(await store.append(lease, [{ data: 'a' }, { data: 'b', event: 'note' }])).toBe(2);
      expect(await store.append(lease, [{ data: 'c\nd' }])).toBe(3);
      const first = await store.read(streamId, 0, 2);
      expect(first).toEqual(expect.objectContaining({ log: lease.log, lastSeq: 3, ended: false, leased: true }));
      expect(first!.entries).toEqual([
        { seq: 1, data: 'a' },
        { seq: 2, event: 'note', data: 'b' },
      ]);
      expect((await store.read(streamId, 2, 2))!.entries).toEqual([{ seq: 3, data: 'c\nd' }]);
      expect((await store.read(streamId, 3, 2))!.entries).toEqual([]);
      expect((await store.read(streamId, 9, 2))!.entries).toEqual([]);
    });

    it('ends the log with a terminal entry, drops the lease, answers ended, and hands the terminal entry again to a read at or past it', async () => {
      const streamId = id('end');
      const lease = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      await store.append(lease, [{ data: 'a' }]);
      expect(await store.end(lease, { event: 'done', data: '[DONE]' }, TTL)).toBe(2);
      expect(await store.state(streamId)).toEqual(expect.objectContaining({ lastSeq: 2, ended: true, leased: false }));
      const terminal = { seq: 2, event: 'done', data: '[DONE]', end: true };
      expect((await store.read(streamId, 0, 10))!.entries).toEqual([{ seq: 1, data: 'a' }, terminal]);
      expect((await store.read(streamId, 1, 10))!.entries).toEqual([terminal]);
      expect((await store.read(streamId, 2, 10))!.entries).toEqual([terminal]);
      expect((await store.read(streamId, 50, 10))!.entries).toEqual([terminal]);
      expect(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL })).toEqual({ status: 'ended' });
      await expect(store.append(lease, [{ data: 'late' }])).rejects.toBeInstanceOf(RelayLeaseLostError);
      await expect(store.end(lease, { event: 'done', data: '[DONE]' }, TTL)).rejects.toBeInstanceOf(RelayLeaseLostError);
      expect(await store.renew(lease)).toBe(false);
      expect((await store.state(streamId))?.lastSeq).toBe(2);
    });

    it('after a release, the next claim takes over: same log, epoch + 1, numbering continues, the last resume point comes back', async () => {
      const streamId = id('takeover');
      const first = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      await store.append(first, [{ data: 'a' }], 'r1');
      await store.append(first, [{ data: 'b' }, { data: 'c' }], 'r2');
      await store.append(first, [{ data: 'd' }]);
      await store.release(first);
      expect(await store.state(streamId)).toEqual(expect.objectContaining({ lastSeq: 4, ended: false, leased: false }));
      const claim = await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL });
      expect(claim).toEqual(expect.objectContaining({ status: 'takenOver', lastSeq: 4, resume: 'r2' }));
      const second = leaseOf(claim);
      expect(second.log).toBe(first.log);
      expect(second.epoch).toBe(2);
      expect(second.token).not.toBe(first.token);
      // A store that shows entries before storing them (offer) skips RELAY_TAKEOVER_SKIP numbers at a takeover.
      expect(await store.append(second, [{ data: 'e' }])).toBe(5 + skipOf(store));
      expect((await store.read(streamId, 3, 10))!.entries.map((entry) => entry.data)).toEqual(['d', 'e']);
    });

    it('fences the earlier producer after a takeover: its appends and ends reject, its renewals and releases do nothing', async () => {
      const streamId = id('fence');
      const first = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      await store.append(first, [{ data: 'a' }]);
      await store.release(first);
      const second = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      await expect(store.append(first, [{ data: 'stale' }])).rejects.toBeInstanceOf(RelayLeaseLostError);
      await expect(store.end(first, { event: 'done', data: '[DONE]' }, TTL)).rejects.toBeInstanceOf(RelayLeaseLostError);
      expect(await store.renew(first)).toBe(false);
      await store.release(first);
      expect(await store.state(streamId)).toEqual(expect.objectContaining({ lastSeq: 1, leased: true, ended: false }));
      expect(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL })).toEqual({ status: 'held' });
      expect(await store.append(second, [{ data: 'b' }])).toBe(2 + skipOf(store));
    });

    it('grows the epoch by one on every takeover', async () => {
      const streamId = id('epochs');
      const epochs: number[] = [];
      for (let round = 0; round < 4; round++) {
        const lease = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
        epochs.push(lease.epoch);
        await store.append(lease, [{ data: String(round) }]);
        await store.release(lease);
      }
      expect(epochs).toEqual([1, 2, 3, 4]);
      const skip = skipOf(store);
      expect((await store.read(streamId, 0, 10))!.entries.map((entry) => [entry.seq, entry.data])).toEqual([
        [1, '0'],
        [2 + skip, '1'],
        [3 + 2 * skip, '2'],
        [4 + 3 * skip, '3'],
      ]);
    });

    it('adds up the skips of takeovers that wrote nothing, so no number shown by any of them is reused', async () => {
      const streamId = id('skips');
      const first = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      await store.append(first, [{ data: 'a' }]);
      await store.release(first);
      const idle = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      await store.release(idle);
      const third = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      expect(await store.append(third, [{ data: 'b' }])).toBe(2 + 2 * skipOf(store));
      expect((await store.read(streamId, 0, 10))!.entries.map((entry) => entry.data)).toEqual(['a', 'b']);
    });

    it('readNow (when the store has it): a page it gives is exactly the log at that position, live and ended; nothing for an unknown id', async () => {
      if (!store.readNow) return;
      const streamId = id('read-now');
      expect(store.readNow(streamId, 0, 10)).toBeUndefined();
      const lease = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      const events = [{ data: 'a' }, { data: 'b', event: 'note' }, { data: 'c\nd' }];
      store.offer?.(lease, events);
      await store.append(lease, events);
      const log = [{ seq: 1, data: 'a' }, { seq: 2, event: 'note', data: 'b' }, { seq: 3, data: 'c\nd' }];
      let given = 0;
      const compare = (ended: boolean) => {
        for (const [after, limit] of [[0, 2], [0, 10], [1, 1], [2, 5], [3, 5], [4, 1], [50, 3]] as const) {
          const now = store.readNow!(streamId, after, limit);
          // Not every store holds every position in memory; what it does give must be exactly the log.
          if (now === undefined) continue;
          given++;
          const last = log[log.length - 1]!;
          const entries = ended && after >= last.seq ? [last] : log.filter((entry) => entry.seq > after).slice(0, limit);
          expect(now).toEqual({ log: lease.log, lastSeq: last.seq, ended, leased: !ended, owner: undefined, entries });
        }
      };
      compare(false);
      await store.end(lease, { event: 'done', data: '[DONE]' }, TTL);
      log.push({ seq: 4, event: 'done', data: '[DONE]', end: true } as never);
      compare(true);
      // A store with readNow gives at least the live tail of a log it writes.
      expect(given).toBeGreaterThan(0);
    });

    it('offer (when the store has it): entries are readable at once, numbered as the append then stores them; state keeps the stored position', async () => {
      if (!store.offer) {
        expect(skipOf(store)).toBe(0);
        return;
      }
      const streamId = id('offer');
      const first = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      await store.append(first, [{ data: 'a' }]);
      store.offer(first, [{ data: 'b' }]);
      store.offer(first, [{ event: 'x', data: 'c' }]);
      expect((await store.read(streamId, 1, 10))!.entries).toEqual([
        { seq: 2, data: 'b' },
        { seq: 3, event: 'x', data: 'c' },
      ]);
      expect((await store.state(streamId))?.lastSeq).toBe(1);
      expect(await store.append(first, [{ data: 'b' }, { event: 'x', data: 'c' }])).toBe(3);
      expect((await store.read(streamId, 0, 10))!.entries.map((entry) => entry.data)).toEqual(['a', 'b', 'c']);
      // After a takeover, offered entries are numbered past the skip, as the store then numbers them.
      await store.release(first);
      const second = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      store.offer(second, [{ data: 'd' }]);
      const shown = (await store.read(streamId, 3, 10))!.entries;
      expect(await store.append(second, [{ data: 'd' }])).toBe(4 + RELAY_TAKEOVER_SKIP);
      expect(shown.length === 0 || shown[0]!.seq === 4 + RELAY_TAKEOVER_SKIP).toBe(true);
      expect((await store.read(streamId, 3, 10))!.entries.map((entry) => [entry.seq, entry.data])).toEqual([[4 + RELAY_TAKEOVER_SKIP, 'd']]);
    });

    it('offer (when the store has it): shows at most RELAY_TAKEOVER_SKIP entries ahead of what is stored, the rest once stored, in order', async () => {
      if (!store.offer) {
        expect(skipOf(store)).toBe(0);
        return;
      }
      const streamId = id('offer-cap');
      const lease = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      const events = Array.from({ length: RELAY_TAKEOVER_SKIP + 10 }, (_, i) => ({ data: String(i) }));
      for (const event of events) store.offer(lease, [event]);
      const readAll = async () => {
        const seen: string[] = [];
        let after = 0;
        for (;;) {
          const page = (await store.read(streamId, after, 500))!;
          if (page.entries.length === 0) return seen;
          for (const entry of page.entries) seen.push(entry.data);
          after = page.entries[page.entries.length - 1]!.seq;
        }
      };
      expect(await readAll()).toEqual(events.slice(0, RELAY_TAKEOVER_SKIP).map((event) => event.data));
      // An offer while held back is held back too, whatever its size.
      store.offer(lease, [{ data: 'late' }]);
      expect(await store.append(lease, events.slice(0, 500))).toBe(500);
      expect((await readAll()).length).toBe(RELAY_TAKEOVER_SKIP);
      expect(await store.append(lease, [...events.slice(500), { data: 'late' }])).toBe(events.length + 1);
      expect(await readAll()).toEqual([...events.map((event) => event.data), 'late']);
    });

    it('lets a lease lapse when it is not renewed: state says not leased, the lapsed producer cannot write, the next claim takes over', async () => {
      const streamId = id('lapse');
      const lease = leaseOf(await store.claim(streamId, { leaseMs: 300, ttlMs: TTL }));
      await store.append(lease, [{ data: 'a' }]);
      await eventually(async () => (await store.state(streamId))?.leased === false, 15_000, 'the lease to lapse');
      await expect(store.append(lease, [{ data: 'late' }])).rejects.toBeInstanceOf(RelayLeaseLostError);
      expect(await store.renew(lease)).toBe(false);
      const claim = await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL });
      expect(claim).toEqual(expect.objectContaining({ status: 'takenOver', lastSeq: 1 }));
      expect(leaseOf(claim).epoch).toBe(2);
    });

    it('keeps a lease that is renewed, past several lease lengths', async () => {
      const streamId = id('renew');
      const lease = leaseOf(await store.claim(streamId, { leaseMs: 1_500, ttlMs: TTL }));
      const until = Date.now() + 4_000;
      while (Date.now() < until) {
        expect(await store.renew(lease)).toBe(true);
        await pause(150);
      }
      expect(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL })).toEqual({ status: 'held' });
      expect((await store.state(streamId))?.leased).toBe(true);
    });

    it('counts a log\'s life from its last write, not its start; an expired log is never re-created by a write', async () => {
      const streamId = id('life');
      const lease = leaseOf(await store.claim(streamId, { leaseMs: 20_000, ttlMs: 1_500 }));
      const until = Date.now() + 4_000;
      let n = 0;
      while (Date.now() < until) {
        await store.append(lease, [{ data: String(n++) }]);
        await pause(150);
      }
      // Alive well past its ttl from the start, because every write extended it.
      expect((await store.state(streamId))?.lastSeq).toBe(n);
      await eventually(async () => (await store.state(streamId)) === undefined, 20_000, 'the log to expire after its last write');
      await expect(store.append(lease, [{ data: 'late' }])).rejects.toBeInstanceOf(RelayLeaseLostError);
      expect(await store.renew(lease)).toBe(false);
      await expect(store.end(lease, { event: 'done', data: '[DONE]' }, TTL)).rejects.toBeInstanceOf(RelayLeaseLostError);
      expect(await store.state(streamId)).toBeUndefined();
      expect(await store.read(streamId, 0, 10)).toBeUndefined();
    });

    it('keeps an ended log for the ttl given to end', async () => {
      const streamId = id('afterEnd');
      const lease = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      await store.append(lease, [{ data: 'a' }]);
      await store.end(lease, { event: 'done', data: '[DONE]' }, 400);
      expect((await store.state(streamId))?.ended).toBe(true);
      await eventually(async () => (await store.state(streamId)) === undefined, 15_000, 'the ended log to expire');
    });

    it('writes nothing for an unknown id: read, state, changes, touch and lastSeen', async () => {
      const streamId = id('unknown');
      expect(await store.state(streamId)).toBeUndefined();
      expect(await store.read(streamId, 0, 10)).toBeUndefined();
      await store.touch(streamId, TTL);
      expect(await store.lastSeen(streamId)).toBeUndefined();
      const subscription = store.changes(streamId).subscribe({ error: () => undefined });
      subscription.unsubscribe();
      expect(await store.state(streamId)).toBeUndefined();
      // The id is still free: the first claim creates it, and nobody has read it.
      expect((await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL })).status).toBe('created');
      expect(await store.lastSeen(streamId)).toBeUndefined();
    });

    it('records when a client last read a stream', async () => {
      const streamId = id('seen');
      leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      const before = Date.now();
      await store.touch(streamId, TTL);
      const seen = await store.lastSeen(streamId);
      expect(seen).toBeGreaterThanOrEqual(before - 1_000);
      expect(seen).toBeLessThanOrEqual(Date.now() + 1_000);
    });

    it('records the owner on creation and answers forbidden to a claim by another owner, or by none', async () => {
      const streamId = id('owner');
      const lease = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL, owner: 'alice' }));
      expect((await store.state(streamId))?.owner).toBe('alice');
      await store.release(lease);
      expect(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL, owner: 'bob' })).toEqual({ status: 'forbidden' });
      expect(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL })).toEqual({ status: 'forbidden' });
      expect((await store.state(streamId))?.leased).toBe(false);
      expect((await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL, owner: 'alice' })).status).toBe('takenOver');
      const open = id('noOwner');
      leaseOf(await store.claim(open, { leaseMs: LEASE, ttlMs: TTL }));
      expect((await store.state(open))?.owner).toBeUndefined();
    });

    it('tells a waiting reader of appends, the end and a release through changes', async () => {
      const streamId = id('changes');
      const lease = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      const next = () => firstValueFrom(store.changes(streamId).pipe(take(1), timeout(15_000)));
      const appended = next();
      await pause(50);
      await store.append(lease, [{ data: 'a' }]);
      await appended;
      const released = next();
      await pause(50);
      await store.release(lease);
      await released;
      const second = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      const ended = next();
      await pause(50);
      await store.end(second, { event: 'done', data: '[DONE]' }, TTL);
      await ended;
      expect((await store.state(streamId))?.ended).toBe(true);
    });

    it('signals only what happens after subscribing (no replay), and at least once for a burst of appends', async () => {
      const streamId = id('burst');
      const lease = leaseOf(await store.claim(streamId, { leaseMs: LEASE, ttlMs: TTL }));
      await store.append(lease, [{ data: 'before' }]);
      const signals: number[] = [];
      const subscription = store.changes(streamId).subscribe({ next: () => signals.push(Date.now()), error: () => undefined });
      try {
        await pause(300);
        expect(signals).toHaveLength(0);
        for (let n = 0; n < 5; n++) await store.append(lease, [{ data: String(n) }]);
        await eventually(() => signals.length > 0, 15_000, 'a change signal');
      } finally {
        subscription.unsubscribe();
      }
      expect((await store.read(streamId, 1, 100))!.entries.map((entry) => entry.data)).toEqual(['0', '1', '2', '3', '4']);
    });
  });
}
