import { DurableLogError, memoryDurableLogStore } from '../src/server/index';

// memoryDurableLogStore's clock-driven and fork rules, with a clock the test moves (the conformance
// suite checks the same rules over HTTP in real time: npm run conformance).

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (messages: readonly { data: Uint8Array }[]) => messages.map((message) => new TextDecoder().decode(message.data)).join('');

describe('memoryDurableLogStore', () => {
  it('a Stream-TTL slides on reads and appends, not on HEAD, and the stream is gone once it lapses', async () => {
    let now = 1_000_000;
    const store = memoryDurableLogStore({ now: () => now });
    await store.create('/s', { contentType: 'text/plain', ttlSeconds: 10 });
    now += 9_000;
    expect(text((await store.read('/s', undefined))!.messages)).toBe('');
    now += 9_000; // 18 s after the create, 9 s after the read
    expect(await store.head('/s')).toBeDefined();
    expect(await store.append('/s', bytes('a'), { contentType: 'text/plain' })).toMatchObject({ status: 'appended' });
    now += 9_999;
    expect((await store.head('/s'))?.nextOffset).toBeDefined();
    now += 1;
    expect(await store.head('/s')).toBeUndefined();
    await expect(store.append('/s', bytes('b'), { contentType: 'text/plain' })).rejects.toMatchObject({ status: 404 });
  });

  it('a fork reads its source up to the fork offset, then its own; a deleted source stays for the fork (410 to others) and goes with it', async () => {
    const store = memoryDurableLogStore();
    await store.create('/src', { contentType: 'text/plain', initialData: bytes('ab') });
    const { meta } = await store.create('/fork', { forkedFrom: '/src' });
    expect(meta.contentType).toBe('text/plain');
    await store.append('/src', bytes('X'), { contentType: 'text/plain' });
    await store.append('/fork', bytes('c'), { contentType: 'text/plain' });
    expect(text((await store.read('/fork', undefined))!.messages)).toBe('abc');
    expect(text((await store.read('/fork', meta.nextOffset))!.messages)).toBe('c');
    expect(await store.delete('/src')).toBe(true);
    expect((await store.head('/src'))!.gone).toBe(true);
    await expect(store.delete('/src')).rejects.toBeInstanceOf(DurableLogError);
    await expect(store.create('/src', { contentType: 'text/plain' })).rejects.toMatchObject({ status: 409 });
    expect(text((await store.read('/fork', undefined))!.messages)).toBe('abc');
    expect(await store.delete('/fork')).toBe(true);
    expect(await store.head('/src')).toBeUndefined();
    expect((await store.create('/src', { contentType: 'text/plain' })).created).toBe(true);
  });

  it('a producer: a new one starts at 0, a retry is a duplicate, a gap and a new epoch not at 0 are refused, an old epoch is fenced', async () => {
    const store = memoryDurableLogStore();
    await store.create('/p', { contentType: 'text/plain' });
    const append = (epoch: number, seq: number) => store.append('/p', bytes(`${epoch}.${seq};`), { contentType: 'text/plain', producer: { id: 'w', epoch, seq } });
    expect(await append(0, 1)).toEqual({ status: 'sequence-gap', expectedSeq: 0, receivedSeq: 1 });
    expect(await append(0, 0)).toMatchObject({ status: 'appended' });
    expect(await append(0, 0)).toMatchObject({ status: 'duplicate', lastSeq: 0 });
    expect(await append(0, 2)).toEqual({ status: 'sequence-gap', expectedSeq: 1, receivedSeq: 2 });
    expect(await append(1, 3)).toEqual({ status: 'invalid-epoch-seq' });
    expect(await append(1, 0)).toMatchObject({ status: 'appended' });
    expect(await append(0, 1)).toEqual({ status: 'stale-epoch', currentEpoch: 1 });
    expect(text((await store.read('/p', undefined))!.messages)).toBe('0.0;1.0;');
  });
});
