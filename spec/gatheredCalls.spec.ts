import { CALLS_BEFORE_GATHERING, entryArgument, GatheredCalls, STREAMS_PER_CALL } from '../src/server/redis/gatheredCalls';

/** A script call that answers only when told: records each call's keys and arguments. */
function heldCalls() {
  const calls: Array<{ keys: string[]; args: string[]; answer: (reply: unknown) => void; fail: (error: unknown) => void }> = [];
  const call = (keys: string[], args: string[]) =>
    new Promise<unknown>((answer, fail) => {
      calls.push({ keys, args, answer, fail });
    });
  return { calls, call };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('GatheredCalls (the Redis store writes of many streams on their way)', () => {
  it('sends an append at once, alone, while fewer than CALLS_BEFORE_GATHERING calls are unanswered', async () => {
    const { calls, call } = heldCalls();
    const appends = new GatheredCalls(call, ['PUBLISH'], true);
    const answers = Array.from({ length: CALLS_BEFORE_GATHERING }, (_, i) => appends.add(`m${i}`, [`h${i}`, `d${i}`]));
    expect(calls.map(({ keys, args }) => [keys, args])).toEqual(Array.from({ length: CALLS_BEFORE_GATHERING }, (_, i) => [[`m${i}`], ['PUBLISH', `h${i}`, `d${i}`]]));
    calls.forEach(({ answer }, i) => answer([i + 10]));
    expect(await Promise.all(answers)).toEqual(Array.from({ length: CALLS_BEFORE_GATHERING }, (_, i) => i + 10));
  });

  it('past that, gathers the appends of one turn into one call on the next turn, and hands each its own answer', async () => {
    const { calls, call } = heldCalls();
    const appends = new GatheredCalls(call, ['SPUBLISH'], true);
    for (let i = 0; i < CALLS_BEFORE_GATHERING; i++) void appends.add(`m${i}`, [`h${i}`, 'x']);
    const a = appends.add('ma', ['ha 2', 'a1', 'a2']);
    const b = appends.add('mb', ['hb 1', 'b1']);
    expect(calls).toHaveLength(CALLS_BEFORE_GATHERING);
    await nextTurn();
    expect(calls).toHaveLength(CALLS_BEFORE_GATHERING + 1);
    expect(calls[CALLS_BEFORE_GATHERING]).toMatchObject({ keys: ['ma', 'mb'], args: ['SPUBLISH', 'ha 2', 'a1', 'a2', 'hb 1', 'b1'] });
    calls[CALLS_BEFORE_GATHERING]!.answer([7, -1]);
    expect(await a).toBe(7);
    expect(await b).toBe(-1);
  });

  it('sends those waiting as soon as a call is answered, without waiting for the next turn', async () => {
    const { calls, call } = heldCalls();
    const appends = new GatheredCalls(call, ['PUBLISH'], true);
    const first = Array.from({ length: CALLS_BEFORE_GATHERING }, (_, i) => appends.add(`m${i}`, ['h', 'x']));
    const waiting = [appends.add('a', ['h', 'x']), appends.add('b', ['h', 'x'])];
    calls[0]!.answer([1]);
    await first[0];
    expect(calls).toHaveLength(CALLS_BEFORE_GATHERING + 1);
    expect(calls[CALLS_BEFORE_GATHERING]!.keys).toEqual(['a', 'b']);
    calls[CALLS_BEFORE_GATHERING]!.answer([3, 4]);
    expect(await Promise.all(waiting)).toEqual([3, 4]);
    // The turn's scheduled flush finds nothing left to send.
    await nextTurn();
    expect(calls).toHaveLength(CALLS_BEFORE_GATHERING + 1);
  });

  it('a failed call fails its own appends only; a reply of the wrong shape fails them with a TypeError', async () => {
    const { calls, call } = heldCalls();
    const appends = new GatheredCalls(call, ['PUBLISH'], true);
    for (let i = 0; i < CALLS_BEFORE_GATHERING; i++) void appends.add(`m${i}`, ['h', 'x']);
    const first = [appends.add('a', ['h', 'x']), appends.add('b', ['h', 'x'])];
    await nextTurn();
    const second = [appends.add('c', ['h', 'x'])];
    await nextTurn();
    const [callA, callB] = calls.slice(CALLS_BEFORE_GATHERING);
    expect(callA!.keys).toEqual(['a', 'b']);
    expect(callB!.keys).toEqual(['c']);
    const lost = new Error('connection lost');
    callA!.fail(lost);
    callB!.answer([1, 2]);
    await expect(Promise.all(first)).rejects.toBe(lost);
    await expect(second[0]).rejects.toThrow(TypeError);
  });

  it('a write not wanted soon (no other instance follows its stream) waits for the next turn even with nothing on its way, gathered', async () => {
    const { calls, call } = heldCalls();
    const appends = new GatheredCalls(call, ['PUBLISH'], true);
    const lazy = [appends.add('a', ['ha', 'a1'], false), appends.add('b', ['hb', 'b1'], false)];
    expect(calls).toHaveLength(0);
    // A write wanted soon still goes at once, alone, past those waiting.
    const soon = appends.add('c', ['hc', 'c1']);
    expect(calls.map(({ keys }) => keys)).toEqual([['c']]);
    await nextTurn();
    expect(calls.map(({ keys, args }) => [keys, args])).toEqual([
      [['c'], ['PUBLISH', 'hc', 'c1']],
      [['a', 'b'], ['PUBLISH', 'ha', 'a1', 'hb', 'b1']],
    ]);
    calls[0]!.answer([[3, 1]]);
    calls[1]!.answer([[1, 0], [-1, 1]]);
    expect(await soon).toEqual([3, 1]);
    expect(await Promise.all(lazy)).toEqual([[1, 0], [-1, 1]]);
  });

  it('a write not wanted soon goes with the next answer when one comes first', async () => {
    const { calls, call } = heldCalls();
    const appends = new GatheredCalls(call, ['PUBLISH'], true);
    const first = appends.add('a', ['h', 'x']);
    const lazy = appends.add('b', ['h', 'y'], false);
    expect(calls).toHaveLength(1);
    calls[0]!.answer([1]);
    await first;
    expect(calls.map(({ keys }) => keys)).toEqual([['a'], ['b']]);
    calls[1]!.answer([2]);
    expect(await lazy).toBe(2);
  });

  it(`sends at most ${STREAMS_PER_CALL} streams a call`, async () => {
    const { calls, call } = heldCalls();
    const appends = new GatheredCalls(call, ['PUBLISH'], true);
    for (let i = 0; i < CALLS_BEFORE_GATHERING; i++) void appends.add(`m${i}`, ['h', 'x']);
    const waiting = Array.from({ length: STREAMS_PER_CALL + 3 }, (_, i) => appends.add(`w${i}`, ['h', 'x']));
    await nextTurn();
    const batched = calls.slice(CALLS_BEFORE_GATHERING);
    expect(batched.map(({ keys }) => keys.length)).toEqual([STREAMS_PER_CALL, 3]);
    batched[0]!.answer(Array.from({ length: STREAMS_PER_CALL }, (_, i) => i));
    batched[1]!.answer([100, 101, 102]);
    expect((await Promise.all(waiting)).slice(-4)).toEqual([STREAMS_PER_CALL - 1, 100, 101, 102]);
  });

  it('on a Cluster (not together), every append is its own call with its own key, at once, wanted soon or not', async () => {
    const { calls, call } = heldCalls();
    const appends = new GatheredCalls(call, ['SPUBLISH'], false);
    const answers = Array.from({ length: CALLS_BEFORE_GATHERING + 2 }, (_, i) => appends.add(`m${i}`, ['h', `d${i}`], i % 2 === 0));
    expect(calls.map(({ keys }) => keys)).toEqual(Array.from({ length: CALLS_BEFORE_GATHERING + 2 }, (_, i) => [`m${i}`]));
    calls.forEach(({ answer }, i) => answer([i]));
    expect(await Promise.all(answers)).toEqual(Array.from({ length: CALLS_BEFORE_GATHERING + 2 }, (_, i) => i));
  });

  it('writes an entry as one argument: kind, the type’s length in bytes and the type, then the data', () => {
    expect(entryArgument('{"a":1}', undefined, false)).toBe('d{"a":1}');
    expect(entryArgument('bye', undefined, true)).toBe('Dbye');
    expect(entryArgument('x:y', 'é中', false)).toBe('e5:é中x:y');
    expect(entryArgument('', 'error', true)).toBe('E5:error');
  });
});
