import { asyncScheduler, firstValueFrom, Subject, timer } from 'rxjs';
import { producerStops, type ProducerStop } from '../src/server/producerStops';
import { relayReporter } from '../src/server/relayActivity';
import { memoryRelayStore } from '../src/server/memoryRelayStore';
import { RelayLeaseLostError, type RelayLease, type RelayStore } from '../src/server/relayStore';

// Real timers, short periods: every assertion counts calls and answers, never how late a tick came.
const LEASE: RelayLease = { streamId: 'stops-1', log: 'log1', token: 'token1', epoch: 1, leaseMs: 30, ttlMs: 60_000 };
const sleep = (ms: number) => firstValueFrom(timer(ms));

/** A store whose `renew` and `lastSeen` answer what each test scripts, counting calls. */
function scriptedStore(script: { renew?: (call: number) => Promise<boolean>; lastSeen?: (call: number) => Promise<number | undefined> }) {
  const calls = { renew: 0, lastSeen: 0 };
  const store = {
    ...memoryRelayStore(),
    renew: () => (script.renew ?? (() => Promise.resolve(true)))(++calls.renew),
    lastSeen: () => (script.lastSeen ?? (() => Promise.resolve(Date.now())))(++calls.lastSeen),
  } as RelayStore;
  return { store, calls };
}

/** Every watch of a test, ended after it (also when an assertion failed halfway). */
const watching: Array<{ unsubscribe(): void }> = [];
afterEach(() => watching.splice(0).forEach((subscription) => subscription.unsubscribe()));

function watch(store: RelayStore, options: { abandonAfter?: number; handOver?: Subject<void> } = {}) {
  const errors: Array<{ operation: string; error: unknown }> = [];
  const reporter = relayReporter((activity) => activity.type === 'storeError' && errors.push({ operation: activity.operation, error: activity.error }), undefined);
  const seen: ProducerStop[] = [];
  /** When each stop was emitted (Date.now()). */
  const at: number[] = [];
  let completed = false;
  const subscription = producerStops({
    store,
    lease: LEASE,
    abandonAfter: options.abandonAfter ?? Infinity,
    handOver: options.handOver ?? new Subject<void>(),
    scheduler: asyncScheduler,
    reporter,
  }).subscribe({
    next: (reason) => {
      seen.push(reason);
      at.push(Date.now());
    },
    complete: () => (completed = true),
  });
  watching.push(subscription);
  return { seen, at, errors, subscription, done: () => completed };
}

async function until(condition: () => boolean, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('producerStops', () => {
  it('emits leaseLost, once, when a renewal answers false, and renews no more', async () => {
    const { store, calls } = scriptedStore({ renew: (call) => Promise.resolve(call < 3) });
    const watched = watch(store);
    await until(watched.done);
    expect(watched.seen).toEqual(['leaseLost']);
    expect(calls.renew).toBe(3);
    await sleep(60);
    expect(calls.renew).toBe(3);
  });

  it('emits leaseLost when a renewal rejects with RelayLeaseLostError', async () => {
    const { store } = scriptedStore({ renew: () => Promise.reject(new RelayLeaseLostError(LEASE.streamId)) });
    const watched = watch(store);
    await until(watched.done);
    expect(watched.seen).toEqual(['leaseLost']);
    expect(watched.errors).toEqual([]);
  });

  it('reports a renewal that fails otherwise (also one that throws) and renews again at the next tick, never stopping by itself', async () => {
    const unreachable = new Error('store unreachable');
    const { store, calls } = scriptedStore({
      renew: (call) => {
        if (call === 1) throw unreachable;
        return call === 2 ? Promise.reject(unreachable) : Promise.resolve(true);
      },
    });
    const watched = watch(store);
    await until(() => calls.renew >= 5);
    expect(watched.seen).toEqual([]);
    expect(watched.done()).toBe(false);
    expect(watched.errors).toEqual([
      { operation: 'renew', error: unreachable },
      { operation: 'renew', error: unreachable },
    ]);
    watched.subscription.unsubscribe();
  });

  it('skips its ticks while a renewal is in flight', async () => {
    let answer!: (held: boolean) => void;
    const { store, calls } = scriptedStore({ renew: (call) => (call === 1 ? new Promise((resolve) => (answer = resolve)) : Promise.resolve(true)) });
    const watched = watch(store);
    await until(() => calls.renew === 1);
    await sleep(100); // ten periods
    expect(calls.renew).toBe(1);
    answer(true);
    await until(() => calls.renew >= 2);
    expect(watched.seen).toEqual([]);
    watched.subscription.unsubscribe();
  });

  it('emits abandoned when no client read for abandonAfter, and never asks when abandonAfter is Infinity', async () => {
    const { store, calls } = scriptedStore({ lastSeen: (call) => Promise.resolve(call < 3 ? Date.now() : Date.now() - 1_000) });
    const watched = watch(store, { abandonAfter: 60 });
    await until(watched.done);
    expect(watched.seen).toEqual(['abandoned']);
    // The third answer is the first stale one. Timers count whole milliseconds of the event loop's clock and the count
    // from the start reads Date.now(), so the third tick may find 59 ms since the start and the stop takes one tick
    // more: never fewer than three asks, none after the stop.
    const asked = calls.lastSeen;
    expect(asked).toBeGreaterThanOrEqual(3);
    await sleep(60);
    expect(calls.lastSeen).toBe(asked);

    const idle = scriptedStore({});
    const forever = watch(idle.store);
    await until(() => idle.calls.renew >= 3);
    expect(idle.calls.lastSeen).toBe(0);
    forever.subscription.unsubscribe();
  });

  it('counts from its own start when no client read the stream since: never read, or read before the start, is abandoned too', async () => {
    const started = Date.now();
    // Nobody ever read it: no write at the start is needed for the count to run.
    const never = scriptedStore({ lastSeen: () => Promise.resolve(undefined) });
    const unread = watch(never.store, { abandonAfter: 60 });
    // Read long before this producer took the log over: counted from the takeover, not from that read.
    const stale = scriptedStore({ lastSeen: () => Promise.resolve(started - 60_000) });
    const takenOver = watch(stale.store, { abandonAfter: 60 });
    await until(() => unread.done() && takenOver.done());
    expect(unread.seen).toEqual(['abandoned']);
    expect(takenOver.seen).toEqual(['abandoned']);
    // Not at the first check (20 ms after the start): the count starts at the start, not at the read a minute earlier.
    expect(unread.at[0]! - started).toBeGreaterThanOrEqual(60);
    expect(takenOver.at[0]! - started).toBeGreaterThanOrEqual(60);
  });

  it('reports a failed lastSeen and checks again', async () => {
    const unreachable = new Error('store unreachable');
    const { store, calls } = scriptedStore({ lastSeen: (call) => (call === 1 ? Promise.reject(unreachable) : Promise.resolve(Date.now())) });
    const watched = watch(store, { abandonAfter: 60 });
    await until(() => calls.lastSeen >= 3);
    expect(watched.seen).toEqual([]);
    expect(watched.errors).toEqual([{ operation: 'lastSeen', error: unreachable }]);
    watched.subscription.unsubscribe();
  });

  it('emits handOver when the relay hands the stream over', async () => {
    const handOver = new Subject<void>();
    const { store } = scriptedStore({});
    const watched = watch(store, { handOver });
    handOver.next();
    expect(watched.seen).toEqual(['handOver']);
    expect(watched.done()).toBe(true);
  });

  it('after unsubscribe asks nothing more, and a late answer reports nothing', async () => {
    let fail!: (error: unknown) => void;
    const { store, calls } = scriptedStore({ renew: () => new Promise((_, reject) => (fail = reject)) });
    const watched = watch(store);
    await until(() => calls.renew === 1);
    watched.subscription.unsubscribe();
    fail(new Error('late'));
    await sleep(60);
    expect(calls.renew).toBe(1);
    expect(watched.errors).toEqual([]);
    expect(watched.seen).toEqual([]);
  });
});
