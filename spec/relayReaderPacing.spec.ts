import { of, Subject, take, throwError, type Observable } from 'rxjs';
import { createRelay, memoryRelayStore, pulledFrames, type FramesDemand } from '../src/server/index';

/** Resolves once `check()` holds, polling every 5 ms for up to 5 s. */
async function until(check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 5) {
    if (waited > 5_000) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const dataOf = (frames: string[]) => frames.map((frame) => /data: (.*)/.exec(frame)?.[1]).filter((data) => data !== undefined);

describe('a relay reader paced by its client (FramesDemand)', () => {
  let relay: ReturnType<typeof createRelay>;
  beforeEach(() => {
    relay = createRelay({ store: memoryRelayStore(), heartbeat: 0, abandonAfter: Infinity });
  });
  afterEach(() => relay.close());

  /** A client with `buffered` bytes waiting until `drain()` is called; counts the waits asked of it. */
  function slowClient() {
    const drains = new Subject<void>();
    const client = { buffered: 0, waits: 0, drain: () => ((client.buffered = 0), drains.next()) };
    const demand: FramesDemand = {
      buffered: () => client.buffered,
      drained: (): Observable<void> => {
        client.waits++;
        return client.buffered === 0 ? of(undefined) : drains.pipe(take(1));
      },
    };
    return { client, demand, drains };
  }

  it('reads nothing more while its client has not drained, then everything, in order', async () => {
    const source = new Subject<string>();
    await relay.start('paced', source);
    const { client, demand, drains } = slowClient();
    const frames: string[] = [];
    const subscription = pulledFrames(relay.frames('paced'), demand).subscribe((frame) => {
      frames.push(frame);
      client.buffered += frame.length;
    });
    source.next('a');
    await until(() => dataOf(frames).length === 1);
    source.next('b');
    source.next('c');
    await until(() => client.waits === 1 && drains.observed);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // b and c are stored, but the client still holds a: nothing more is read for it.
    expect(dataOf(frames)).toEqual(['a']);
    client.drain();
    await until(() => dataOf(frames).length === 3);
    expect(dataOf(frames)).toEqual(['a', 'b', 'c']);
    subscription.unsubscribe();
  });

  it('a client that leaves while the reader waits for its drain leaves no subscription behind', async () => {
    const source = new Subject<string>();
    await relay.start('left', source);
    const { client, demand, drains } = slowClient();
    const subscription = pulledFrames(relay.frames('left'), demand).subscribe((frame) => (client.buffered += frame.length));
    source.next('a');
    await until(() => drains.observed);
    subscription.unsubscribe();
    expect(drains.observed).toBe(false);
  });

  it('a client that never holds anything back gets every entry and the end, asked for no wait', async () => {
    const source = new Subject<string>();
    await relay.start('fast', source);
    const { client, demand } = slowClient();
    const frames: string[] = [];
    let ended = false;
    pulledFrames(relay.frames('fast'), demand).subscribe({ next: (frame) => frames.push(frame), complete: () => (ended = true) });
    for (const data of ['a', 'b', 'c']) source.next(data);
    source.complete();
    await until(() => ended);
    expect(dataOf(frames)).toEqual(['a', 'b', 'c', '[DONE]']);
    expect(client.waits).toBe(0);
  });

  it('a demand that fails ends the reader (no terminal event, so its client resumes) and is reported, not thrown', async () => {
    const errors: unknown[] = [];
    const failing = createRelay({ store: memoryRelayStore(), heartbeat: 0, abandonAfter: Infinity, onError: (error) => errors.push(error) });
    const source = new Subject<string>();
    await failing.start('failing', source);
    const frames: string[] = [];
    let ended = false;
    const demand: FramesDemand = { buffered: () => frames.length, drained: () => throwError(() => new Error('the socket broke')) };
    pulledFrames(failing.frames('failing'), demand).subscribe({ next: (frame) => frames.push(frame), complete: () => (ended = true) });
    source.next('a');
    source.next('b');
    await until(() => ended);
    expect(dataOf(frames)).toEqual(['a']);
    expect(errors.map((error) => (error as Error).message)).toContain('the socket broke');
    await failing.close();
  });

  it('a client with bytes buffered that its writer says are not backed up is asked for no wait; once backed up, it is, and nothing more is read until it drains', async () => {
    const source = new Subject<string>();
    await relay.start('backed-up', source);
    const { client, demand, drains } = slowClient();
    let backedUp = false;
    const frames: string[] = [];
    const subscription = pulledFrames(relay.frames('backed-up'), { ...demand, backedUp: () => backedUp }).subscribe((frame) => {
      frames.push(frame);
      client.buffered += frame.length;
    });
    for (const data of ['a', 'b', 'c']) {
      source.next(data);
      await until(() => dataOf(frames).includes(data));
    }
    expect(client.waits).toBe(0);
    backedUp = true;
    source.next('d');
    source.next('e');
    await until(() => client.waits === 1 && drains.observed);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(dataOf(frames)).toEqual(['a', 'b', 'c', 'd']);
    backedUp = false;
    client.drain();
    await until(() => dataOf(frames).length === 5);
    expect(dataOf(frames)).toEqual(['a', 'b', 'c', 'd', 'e']);
    subscription.unsubscribe();
  });

  it('a reader that keeps up with a live log reads it from memory (readNow): no store read per entry, every entry once, in order', async () => {
    const inner = memoryRelayStore();
    const reads = { read: 0, readNow: 0 };
    const store = {
      ...inner,
      read: (...args: Parameters<typeof inner.read>) => (reads.read++, inner.read(...args)),
      readNow: (...args: Parameters<NonNullable<typeof inner.readNow>>) => (reads.readNow++, inner.readNow!(...args)),
    };
    const counted = createRelay({ store, heartbeat: 0, abandonAfter: Infinity });
    const source = new Subject<string>();
    await counted.start('kept-up', source);
    const frames: string[] = [];
    let ended = false;
    counted.frames('kept-up').subscribe({ next: (frame) => frames.push(frame), complete: () => (ended = true) });
    await until(() => reads.read > 0);
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`);
    for (const word of words) {
      source.next(word);
      await new Promise((resolve) => setImmediate(resolve));
    }
    source.complete();
    await until(() => ended);
    expect(dataOf(frames)).toEqual([...words, '[DONE]']);
    // One read to find its place; the 200 entries and the end come through readNow.
    expect(reads.read).toBe(1);
    expect(reads.readNow).toBeGreaterThanOrEqual(words.length);
    await counted.close();
  });

  it('a store wrapped so that every method answers a promise (readNow too) still relays every entry once, through read', async () => {
    const inner = memoryRelayStore();
    const asynchronous = new Proxy(inner, {
      get: (target, key: keyof typeof inner) => {
        const value = target[key];
        return typeof value === 'function' && key !== 'changes' ? (...args: unknown[]) => Promise.resolve((value as (...a: unknown[]) => unknown).apply(target, args)) : value;
      },
    });
    const wrapped = createRelay({ store: asynchronous, heartbeat: 0, abandonAfter: Infinity });
    const source = new Subject<string>();
    await wrapped.start('wrapped', source);
    const frames: string[] = [];
    let ended = false;
    wrapped.frames('wrapped').subscribe({ next: (frame) => frames.push(frame), complete: () => (ended = true) });
    for (const data of ['a', 'b', 'c']) {
      source.next(data);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    source.complete();
    await until(() => ended);
    expect(dataOf(frames)).toEqual(['a', 'b', 'c', '[DONE]']);
    await wrapped.close();
  });
});
