import { asapScheduler, defer, from, lastValueFrom, map, observeOn, toArray, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { NetworkError } from '../src/errors.js';
import { accumulateContent } from '../src/operators/accumulateContent.js';
import { retryWithBackoff } from '../src/operators/retryWithBackoff.js';
import { appendedOf } from '../src/fold/foldAppended.js';
import { markStreamStart } from '../src/streamStart.js';
import type { ChatCompletionChunk, ChatCompletionChunkChoice, ChatCompletionDelta, ChatCompletionSnapshot, ChoiceSnapshot, ToolCallDelta, ToolCallSnapshot, Usage } from '../src/types.js';

const chunk = (delta: ChatCompletionDelta, extra: Partial<ChatCompletionChunkChoice> & { id?: string; model?: string } = {}): ChatCompletionChunk => {
  const { id = 'c1', model = 'm', ...choice } = extra;
  return { id, model, choices: [{ index: 0, delta, finish_reason: null, ...choice }] };
};
const tools = (...tool_calls: ToolCallDelta[]) => chunk({ tool_calls });
const usage: Usage = { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 };

/** Folds the chunks and returns every snapshot. */
const fold = (chunks: ChatCompletionChunk[]) => lastValueFrom(from(chunks).pipe(accumulateContent(), toArray()));
const last = async (chunks: ChatCompletionChunk[]) => (await fold(chunks)).at(-1)!;
/** Folds the chunks and returns every snapshot with the mark read while it was delivered. */
const foldMarked = (chunks: ChatCompletionChunk[]) =>
  lastValueFrom(from(chunks).pipe(accumulateContent(), map((snapshot) => ({ snapshot, mark: appendedOf(snapshot) })), toArray()));

describe('accumulateContent', () => {
  let rx: TestScheduler;
  beforeEach(() => {
    rx = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('emits a snapshot of the whole text after every chunk', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-|', {
        a: chunk({ role: 'assistant', content: 'Hel' }),
        b: chunk({ content: 'lo' }),
        c: chunk({}, { finish_reason: 'stop' }),
      });
      const snapshot = (content: string, finishReason: string | null = null): ChatCompletionSnapshot => ({
        id: 'c1',
        model: 'm',
        content,
        reasoning: '',
        refusal: '',
        toolCalls: [],
        finishReason,
        choices: [{ index: 0, content, reasoning: '', refusal: '', toolCalls: [], finishReason }],
      });
      expectObservable(source.pipe(accumulateContent())).toBe('-a-b-c-|', {
        a: snapshot('Hel'),
        b: snapshot('Hello'),
        c: snapshot('Hello', 'stop'),
      });
      expectSubscriptions(source.subscriptions).toBe('^------!');
    });
  });

  it('passes errors through after the snapshots so far', () => {
    rx.run(({ cold, expectObservable }) => {
      const failure = new Error('cut');
      const result = cold('-a-#', { a: chunk({ content: 'Hi' }) }, failure).pipe(accumulateContent());
      expectObservable(result).toBe('-a-#', { a: expect.objectContaining({ content: 'Hi' }) }, failure);
    });
  });

  it('joins reasoning_content, reasoning and refusal separately from content', async () => {
    const snapshot = await last([
      chunk({ role: 'assistant', content: null, reasoning_content: '' }),
      chunk({ content: null, reasoning_content: 'Think' }),
      chunk({ content: null, reasoning_content: 'ing.' }),
      chunk({ reasoning: ' More.' }),
      chunk({ content: 'The', reasoning_content: null }),
      chunk({ content: ' answer', refusal: null }),
      chunk({ refusal: 'I cannot' }),
      chunk({ refusal: ' help.' }),
    ]);
    expect(snapshot).toMatchObject({ content: 'The answer', reasoning: 'Thinking. More.', refusal: 'I cannot help.' });
  });

  it('takes reasoning_content over an identical reasoning field in the same delta', async () => {
    const snapshot = await last([chunk({ reasoning_content: 'ab', reasoning: 'ab' }), chunk({ reasoning: 'cd' })]);
    expect(snapshot.reasoning).toBe('abcd');
  });

  describe('usage', () => {
    it('takes it from the usage chunk with no choices', async () => {
      const snapshot = await last([
        chunk({ content: 'Hi' }, { finish_reason: 'stop' }),
        { id: 'c1', model: 'm', choices: [], usage },
      ]);
      expect(snapshot).toMatchObject({ content: 'Hi', finishReason: 'stop', usage });
    });

    it('takes it from the finish chunk (DeepSeek) and ignores usage: null', async () => {
      const snapshot = await last([
        { ...chunk({ content: 'Hi' }), usage: null },
        { ...chunk({ content: '' }, { finish_reason: 'stop' }), usage },
      ]);
      expect(snapshot.usage).toEqual(usage);
      const before = (await fold([{ ...chunk({ content: 'Hi' }), usage: null }]))[0]!;
      expect('usage' in before).toBe(false);
    });
  });

  describe('tool calls', () => {
    it('merges streamed arguments by index; id and name come from the fragment that carries them', async () => {
      const snapshot = await last([
        tools({ index: 0, id: 'call_a1', type: 'function', function: { name: 'get_weather', arguments: '' } }),
        tools({ index: 0, function: { arguments: '{"city":' } }),
        tools({ index: 0, function: { arguments: '"Oslo"}' } }),
        chunk({}, { finish_reason: 'tool_calls' }),
      ]);
      expect(snapshot.toolCalls).toEqual([
        { index: 0, id: 'call_a1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
      ]);
      expect(snapshot.finishReason).toBe('tool_calls');
    });

    it('keeps interleaved calls apart by index', async () => {
      const snapshot = await last([
        tools({ index: 0, id: 'a', function: { name: 'one', arguments: '' } }, { index: 1, id: 'b', function: { name: 'two', arguments: '[' } }),
        tools({ index: 1, function: { arguments: '1' } }),
        tools({ index: 0, function: { arguments: '{}' } }),
        tools({ index: 1, function: { arguments: ']' } }),
      ]);
      expect(snapshot.toolCalls.map((call) => [call.index, call.id, call.function.name, call.function.arguments])).toEqual([
        [0, 'a', 'one', '{}'],
        [1, 'b', 'two', '[1]'],
      ]);
    });

    it('accepts indices that start at 1 or skip, in index order', async () => {
      const snapshot = await last([
        chunk({ content: 'Let me check.' }),
        tools({ index: 3, id: 'late', function: { name: 'second', arguments: '{}' } }),
        tools({ index: 1, id: 'early', function: { name: 'first', arguments: '{"a"' } }),
        tools({ index: 1, function: { arguments: ':1}' } }),
      ]);
      expect(snapshot.content).toBe('Let me check.');
      expect(snapshot.toolCalls.map((call) => [call.index, call.id, call.function.arguments])).toEqual([
        [1, 'early', '{"a":1}'],
        [3, 'late', '{}'],
      ]);
    });

    it('takes a whole call in one chunk', async () => {
      const snapshot = await last([
        tools({ index: 0, id: 'call_7', type: 'function', function: { name: 'weather', arguments: '{"location":"SF"}' } }),
      ]);
      expect(snapshot.toolCalls).toEqual([
        { index: 0, id: 'call_7', type: 'function', function: { name: 'weather', arguments: '{"location":"SF"}' } },
      ]);
    });

    it('opens a call for a delta without index that brings a new id, and continues the last one otherwise', async () => {
      const snapshot = await last([
        tools({ id: 'g1', type: 'function', function: { name: 'search', arguments: '{"q":' } }),
        tools({ function: { arguments: '"rx"}' } }),
        tools({ id: 'g2', type: 'function', function: { name: 'open', arguments: '{"n":1}' } }),
        tools({ id: 'g2', function: { arguments: '' } }),
      ]);
      expect(snapshot.toolCalls.map((call) => [call.index, call.id, call.function.name, call.function.arguments])).toEqual([
        [0, 'g1', 'search', '{"q":"rx"}'],
        [1, 'g2', 'open', '{"n":1}'],
      ]);
    });

    it('merges two deltas for one index in one chunk, in order', async () => {
      const snapshot = await last([
        tools({ index: 0, id: 'x', function: { name: 'f', arguments: '{"a":' } }, { index: 0, function: { arguments: '2}' } }),
      ]);
      expect(snapshot.toolCalls).toEqual([{ index: 0, id: 'x', type: 'function', function: { name: 'f', arguments: '{"a":2}' } }]);
    });

    it('opens a new call when a fragment brings another id at a taken index', async () => {
      const snapshot = await last([
        tools({ index: 0, id: 'first', function: { name: 'a', arguments: '{}' } }),
        tools({ index: 0, id: 'second', function: { name: 'b', arguments: '{}' } }),
      ]);
      expect(snapshot.toolCalls.map((call) => [call.index, call.id, call.function.name])).toEqual([
        [0, 'first', 'a'],
        [1, 'second', 'b'],
      ]);
    });
  });

  it('keeps every choice apart by choice index (n > 1), choice 0 on top', async () => {
    const twoChoices = (a: string, b: string, finish: string | null = null): ChatCompletionChunk => ({
      id: 'c1',
      choices: [
        { index: 1, delta: { content: b }, finish_reason: finish },
        { index: 0, delta: { content: a }, finish_reason: finish },
      ],
    });
    const snapshot = await last([twoChoices('Ye', 'No'), twoChoices('s', 'pe'), twoChoices('', '', 'stop')]);
    expect(snapshot.content).toBe('Yes');
    expect(snapshot.choices.map((choice) => [choice.index, choice.content, choice.finishReason])).toEqual([
      [0, 'Yes', 'stop'],
      [1, 'Nope', 'stop'],
    ]);
  });

  it('folds a stream that sends a new id on every chunk (llama.cpp, LiteLLM, foundry-local) into one message', async () => {
    const snapshot = await last([
      chunk({ role: 'assistant', content: 'Hello' }, { id: '0' }),
      chunk({ content: ',' }, { id: '1' }),
      chunk({ content: ' world' }, { id: '2' }),
    ]);
    expect(snapshot).toMatchObject({ id: '0', content: 'Hello, world' });
  });

  it('takes the first non-empty id, and ignores empty and missing ones', async () => {
    const snapshot = await last([
      { id: '', model: '', choices: [] },
      chunk({ content: 'a' }, { id: 'c9' }),
      chunk({ content: 'b' }, { id: '' }),
      { ...chunk({ content: 'c' }), id: undefined as never },
      chunk({ content: 'd' }, { id: 'c10' }),
    ]);
    expect(snapshot).toMatchObject({ id: 'c9', model: 'm', content: 'abcd' });
  });

  describe('restarts and resumes, marked by the source', () => {
    const retry = <T>() => retryWithBackoff<T>({ initialDelay: 1, jitter: 'none', maxRetries: 3 });
    const orders: Array<[string, (source: Observable<ChatCompletionChunk>) => Observable<ChatCompletionSnapshot>]> = [
      ['accumulateContent, retryWithBackoff', (source) => source.pipe(accumulateContent(), retry())],
      ['retryWithBackoff, accumulateContent', (source) => source.pipe(retry(), accumulateContent())],
    ];
    const dropped = new NetworkError('connection reset');
    const content = (text: string) => expect.objectContaining({ content: text });

    /** Each subscription gets the next of `attempts`. */
    const attemptsOf = (attempts: Array<Observable<ChatCompletionChunk>>) => {
      let next = 0;
      return defer(() => attempts[next++]!);
    };

    it.each(orders)('starts over at a fresh start after a retry, so text is never duplicated (%s)', (_order, pipeline) => {
      rx.run(({ cold, expectObservable }) => {
        const first = cold('-a-b-#', { a: markStreamStart(chunk({ content: 'Hel' }), { resumed: false }), b: chunk({ content: 'lo' }) }, dropped);
        const second = cold('-c-d-|', { c: markStreamStart(chunk({ content: 'Hel' }), { resumed: false }), d: chunk({ content: 'lo!' }) });
        expectObservable(pipeline(attemptsOf([first, second]))).toBe('-a-b---c-d-|', {
          a: content('Hel'),
          b: content('Hello'),
          c: content('Hel'),
          d: content('Hello!'),
        });
      });
    });

    it.each(orders)('continues at a resumed start with a stream token, never showing the text from empty (%s)', (_order, pipeline) => {
      rx.run(({ cold, expectObservable }) => {
        const token = {};
        const first = cold('-a-b-#', { a: markStreamStart(chunk({ content: 'Hel' }), { resumed: false, stream: token }), b: chunk({ content: 'lo' }) }, dropped);
        const second = cold('-c-d-|', { c: markStreamStart(chunk({ content: ' wor' }), { resumed: true, stream: token }), d: chunk({ content: 'ld' }) });
        expectObservable(pipeline(attemptsOf([first, second]))).toBe('-a-b---c-d-|', {
          a: content('Hel'),
          b: content('Hello'),
          c: content('Hello wor'),
          d: content('Hello world'),
        });
      });
    });

    it('continues at a resumed start without a token when it was not resubscribed itself', () => {
      rx.run(({ cold, expectObservable }) => {
        const first = cold('-a-#', { a: markStreamStart(chunk({ content: 'Hel' }), { resumed: false }) }, dropped);
        const second = cold('-b-|', { b: markStreamStart(chunk({ content: 'lo' }), { resumed: true }) });
        expectObservable(attemptsOf([first, second]).pipe(retry(), accumulateContent())).toBe('-a---b-|', { a: content('Hel'), b: content('Hello') });
      });
    });

    it('folds on without a mark, and keeps what each accumulateContent() call resumes apart', () => {
      rx.run(({ cold, expectObservable }) => {
        const token = {};
        const earlier = cold('-a|', { a: markStreamStart(chunk({ content: 'Hel' }), { resumed: false, stream: token }) });
        const fold = accumulateContent();
        expectObservable(earlier.pipe(fold)).toBe('-a|', { a: content('Hel') });
        const later = cold('---b-c|', { b: markStreamStart(chunk({ content: 'lo' }), { resumed: true, stream: token }), c: chunk({ content: '!' }, { id: 'other' }) });
        expectObservable(later.pipe(fold)).toBe('---b-c|', { b: content('Hello'), c: content('Hello!') });
        expectObservable(later.pipe(accumulateContent())).toBe('---b-c|', { b: content('lo'), c: content('lo!') });
      });
    });
  });

  it('never changes a snapshot after emitting it', async () => {
    const chunks = [
      chunk({ content: 'a', tool_calls: [{ index: 0, id: 't', function: { name: 'f', arguments: '{' } }] }),
      chunk({ content: 'b', tool_calls: [{ index: 0, function: { arguments: '}' } }] }),
      chunk({ reasoning_content: 'r' }, { index: 1 }),
      { id: 'c1', choices: [], usage },
      chunk({ content: 'x' }, { id: 'c2' }),
    ];
    const snapshots = await fold(chunks);
    const copies = snapshots.map((snapshot) => structuredClone(snapshot));
    await fold(chunks);
    expect(snapshots).toEqual(copies);
    expect(snapshots[0]).toMatchObject({ content: 'a', toolCalls: [{ function: { arguments: '{' } }] });
    expect(snapshots[1]).toMatchObject({ content: 'ab', toolCalls: [{ function: { arguments: '{}' } }] });
    expect(new Set(snapshots).size).toBe(snapshots.length);
  });

  it('folds Mistral content parts: text parts into content, thinking parts into reasoning', async () => {
    const parts = (...content: unknown[]) => chunk({ content: content as never });
    const snapshot = await last([
      chunk({ role: 'assistant', content: '' }),
      parts({ type: 'thinking', thinking: [{ type: 'text', text: 'Okay' }] }),
      parts({ type: 'thinking', thinking: [{ type: 'text', text: ', the user' }, { type: 'text', text: ' asks.' }] }),
      parts({ type: 'thinking', thinking: ' Plain.' }),
      chunk({ content: 'To cross' }),
      parts({ type: 'text', text: ' safely' }, { type: 'image_url', image_url: 'x' }, null, { type: 'text', text: 7 }),
      parts({ type: 'text', text: ', look.' }),
    ]);
    expect(snapshot).toMatchObject({ content: 'To cross safely, look.', reasoning: 'Okay, the user asks. Plain.' });
  });

  describe('choice indices', () => {
    it('finds choice 0 by its index, whatever other indices come first', async () => {
      const snapshot = await last([
        { id: 'c1', choices: [{ index: -1, delta: { content: 'ghost' }, finish_reason: 'stop' }, { index: 0, delta: { content: 'Hi' }, finish_reason: null }] },
        chunk({ content: '!' }, { finish_reason: 'stop' }),
      ]);
      expect(snapshot).toMatchObject({ content: 'Hi!', finishReason: 'stop' });
    });

    it('skips choices whose index is not a non-negative integer, and reads a missing index as 0', async () => {
      const odd = (index: unknown, content: string): ChatCompletionChunk => ({ id: 'c1', choices: [{ index: index as number, delta: { content }, finish_reason: null }] });
      const snapshot = await last([odd(1.5, 'a'), odd('0', 'b'), odd(Number.NaN, 'c'), odd(-1, 'd'), odd(undefined, 'Hi'), odd(0, '!'), odd(2, 'two')]);
      expect(snapshot.content).toBe('Hi!');
      expect(snapshot.choices.map((choice) => [choice.index, choice.content])).toEqual([
        [0, 'Hi!'],
        [2, 'two'],
      ]);
    });
  });

  it("keeps the last non-null finish reason when OpenRouter's usage chunk repeats the choice with finish_reason null", async () => {
    const snapshot = await last([
      chunk({ content: 'Done.' }),
      chunk({}, { finish_reason: 'stop' }),
      { ...chunk({ content: '' }, { finish_reason: null }), usage },
    ]);
    expect(snapshot).toMatchObject({ content: 'Done.', finishReason: 'stop', usage });
  });

  it('never overwrites a tool call id with an empty one (Qwen) and writes object arguments as JSON', async () => {
    const snapshot = await last([
      tools({ index: 0, id: 'call_q', type: 'function', function: { name: 'f', arguments: '{"a":' } }),
      tools({ index: 0, id: '', function: { name: '', arguments: '1}' } }),
      tools({ id: 'call_m', function: { name: 'g', arguments: { city: 'Oslo', n: [1, 2] } } }),
    ]);
    expect(snapshot.toolCalls.map((call) => [call.index, call.id, call.function.name, call.function.arguments])).toEqual([
      [0, 'call_q', 'f', '{"a":1}'],
      [1, 'call_m', 'g', '{"city":"Oslo","n":[1,2]}'],
    ]);
  });

  describe('read-only snapshots', () => {
    const frozenDeep = (value: unknown): boolean =>
      typeof value !== 'object' || value === null || (Object.isFrozen(value) && Object.values(value).every(frozenDeep));

    it('freezes what every stream shares: the empty arrays, the empty choice 0, usage', async () => {
      const snapshots = await fold([
        { id: 'c1', choices: [] },
        chunk({ content: 'a' }),
        { id: 'c1', choices: [], usage: { ...usage, completion_tokens_details: { reasoning_tokens: 1 } } },
      ]);
      const [before, text, withUsage] = snapshots;
      expect(before!.choices).toEqual([]);
      expect(Object.isFrozen(before!.choices)).toBe(true);
      expect(Object.isFrozen(before!.toolCalls)).toBe(true);
      expect(Object.isFrozen(text!.toolCalls)).toBe(true);
      expect(Object.isFrozen(text!.choices[0]!.toolCalls)).toBe(true);
      expect(frozenDeep(withUsage!.usage)).toBe(true);
      // Unchanged parts are shared: the usage chunk changed no choice.
      expect(withUsage!.choices).toBe(text!.choices);
    });

    it('lets no consumer add a tool call that a later, unrelated stream would show', async () => {
      const first = await last([chunk({ content: 'no tools here' })]);
      expect(() => (first.toolCalls as ToolCallSnapshot[]).push({ index: 0, type: 'function', function: { name: 'ghost', arguments: '{}' } })).toThrow(TypeError);
      const empty = await last([{ id: 'c0', choices: [] }]);
      expect(() => (empty.choices as ChoiceSnapshot[]).push(first.choices[0]!)).toThrow(TypeError);
      const later = await last([chunk({ content: 'unrelated' })]);
      expect(later.toolCalls).toEqual([]);
      expect(later.choices[0]!.toolCalls).toEqual([]);
      expect(later.choices).toHaveLength(1);
      expect((await last([{ id: 'c2', choices: [] }])).choices).toEqual([]);
    });

    it('keeps the fold apart from what a consumer changes in a snapshot against its types', async () => {
      const changed: ChatCompletionSnapshot[] = [];
      const snapshots = await lastValueFrom(
        from([
          chunk({ content: 'Hel', tool_calls: [{ index: 0, id: 't', type: 'function', function: { name: 'f', arguments: '{"a"' } }] }),
          chunk({ content: 'lo', tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }),
        ]).pipe(
          accumulateContent(),
          map((snapshot) => {
            if (changed.length === 0) {
              // What a careless consumer could do from JavaScript or through a cast.
              const loose = snapshot as unknown as { choices: { content: string }[]; toolCalls: ToolCallSnapshot[] };
              loose.choices[0]!.content = 'XXX';
              (loose.toolCalls[0]!.function as { arguments: string }).arguments = 'YYY';
              loose.toolCalls.push({ index: 5, type: 'function', function: { name: 'ghost', arguments: '' } });
            }
            changed.push(snapshot);
            return snapshot;
          }),
          toArray(),
        ),
      );
      const final = snapshots.at(-1)!;
      expect(final.content).toBe('Hello');
      expect(final.choices[0]!.content).toBe('Hello');
      expect(final.toolCalls).toEqual([{ index: 0, id: 't', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }]);
    });

    it('keeps its own copy of usage, so the chunk stays the caller\'s to change', async () => {
      const chunkUsage: Usage = { ...usage };
      const snapshot = await last([{ id: 'c1', choices: [], usage: chunkUsage }]);
      chunkUsage.total_tokens = 1000;
      expect(snapshot.usage).toEqual(usage);
      expect(Object.isFrozen(chunkUsage)).toBe(false);
    });
  });

  describe('the appended mark', () => {
    it('tells, while each snapshot is delivered, what its chunk appended to content, reasoning, refusal and each call\'s arguments', async () => {
      const folded = await foldMarked([
        chunk({ role: 'assistant', content: 'Hel', reasoning_content: 'th' }),
        chunk({ content: 'lo', refusal: 'no' }),
        tools({ index: 0, id: 'a', type: 'function', function: { name: 'f', arguments: '{"x"' } }, { index: 1, id: 'b', type: 'function', function: { name: 'g', arguments: '[' } }),
        tools({ index: 1, function: { arguments: '1' } }, { index: 1, function: { arguments: ',2' } }),
        chunk({}, { finish_reason: 'tool_calls' }),
      ]);
      const marks = folded.map(({ mark }) => mark!);
      expect(marks.map(({ fold: _fold, ...rest }) => rest)).toEqual([
        { chunk: 1, content: 'Hel', reasoning: 'th', refusal: '', toolCalls: [] },
        { chunk: 2, content: 'lo', reasoning: '', refusal: 'no', toolCalls: [] },
        { chunk: 3, content: '', reasoning: '', refusal: '', toolCalls: ['{"x"', '['] },
        { chunk: 4, content: '', reasoning: '', refusal: '', toolCalls: ['', '1,2'] },
        { chunk: 5, content: '', reasoning: '', refusal: '', toolCalls: ['', ''] },
      ]);
      // One fold, one identity; applying the marks in order rebuilds every text.
      expect(new Set(marks.map((mark) => mark.fold)).size).toBe(1);
      const final = folded.at(-1)!.snapshot;
      expect(marks.map((mark) => mark.content).join('')).toBe(final.content);
      expect(marks.map((mark) => mark.toolCalls![1]).join('')).toBe(final.toolCalls[1]!.function.arguments);
    });

    it('joins what two deltas of one chunk appended to a text, and starts afresh at the next chunk', async () => {
      const twice = (first: ChatCompletionDelta, second: ChatCompletionDelta): ChatCompletionChunk => ({
        id: 'c1',
        choices: [
          { index: 0, delta: first, finish_reason: null },
          { index: 0, delta: second, finish_reason: null },
        ],
      });
      const mistral = [{ type: 'thinking', thinking: [{ type: 'text', text: 'hm' }] }, { type: 'text', text: 'Yes' }] as unknown as string;
      const folded = await foldMarked([
        twice({ content: 'a', reasoning: 'r1', refusal: 'n' }, { content: 'b', reasoning: 'r2', refusal: 'o' }),
        chunk({ content: mistral }),
        twice({ reasoning: 'x' }, { content: 'c' }),
      ]);
      expect(folded.map(({ mark }) => [mark!.content, mark!.reasoning, mark!.refusal])).toEqual([
        ['ab', 'r1r2', 'no'],
        ['Yes', 'hm', ''],
        ['c', 'x', ''],
      ]);
      expect(folded.at(-1)!.snapshot).toMatchObject({ content: 'abYesc', reasoning: 'r1r2hmx', refusal: 'no' });
    });

    it('travels on the snapshot itself: read after the delivery and behind an asynchronous step, invisible to JSON and Object.keys, and no slot on globalThis', async () => {
      const [{ snapshot, mark }] = await foldMarked([chunk({ content: 'Hi' })]);
      expect(mark).toMatchObject({ chunk: 1, content: 'Hi' });
      expect(JSON.parse(JSON.stringify(snapshot))).toEqual({ id: 'c1', model: 'm', content: 'Hi', reasoning: '', refusal: '', toolCalls: [], finishReason: null, choices: [expect.anything()] });
      expect(Reflect.ownKeys(snapshot).filter((key) => typeof key === 'symbol')).toEqual([]);
      expect(Object.getPrototypeOf(snapshot)).toBe(Object.prototype);
      expect(appendedOf(snapshot)).toBe(mark);
      expect(appendedOf({ ...snapshot })).toBeUndefined();
      // No slot naming the snapshot being delivered; only the stateless way to read marks, shared by the package's copies.
      // (The retry chain's key, set only while retryWithBackoff subscribes, is the other documented one.)
      const globalKeys = Object.getOwnPropertySymbols(globalThis).map(String).filter((key) => key.includes('rxjs-llm-stream') && key !== 'Symbol(rxjs-llm-stream.retryChain)');
      expect(globalKeys).toEqual(['Symbol(rxjs-llm-stream.appendedMarkAccess)']);
      const late = await lastValueFrom(
        from([chunk({ content: 'a' }), chunk({ content: 'b' })]).pipe(accumulateContent(), observeOn(asapScheduler), map((each) => appendedOf(each)?.content), toArray()),
      );
      expect(late).toEqual(['a', 'b']);
    });

    it('gives, behind a synchronous filter or copy, the mark of the snapshot delivered, and nothing for a copy', async () => {
      const seen = await lastValueFrom(
        from([chunk({ content: 'a' }), chunk({ content: 'b' }), chunk({ content: 'c' })]).pipe(
          accumulateContent(),
          map((snapshot) => ({ snapshot, copy: { ...snapshot } })),
          map(({ snapshot, copy }) => [appendedOf(snapshot)?.content, appendedOf(copy)]),
          toArray(),
        ),
      );
      expect(seen).toEqual([
        ['a', undefined],
        ['b', undefined],
        ['c', undefined],
      ]);
    });

    it('nests: a fold delivered inside the delivery of another gives each its own mark', async () => {
      const seen: string[] = [];
      await lastValueFrom(
        from([chunk({ content: 'outer' })]).pipe(
          accumulateContent(),
          map((outer) => {
            from([chunk({ content: 'inner' })])
              .pipe(accumulateContent())
              .subscribe((inner) => seen.push(`${appendedOf(inner)?.content} ${appendedOf(outer)?.content}`));
            seen.push(`${appendedOf(outer)?.content}`);
            return outer;
          }),
        ),
      );
      // Each snapshot carries its own mark, whoever delivers what when.
      expect(seen).toEqual(['inner outer', 'outer']);
    });

    it('gives a fold that starts over a new identity, and a resumed fold its old one, counting on', () => {
      rx.run(({ cold, expectObservable }) => {
        const token = {};
        const source = cold('-a-b-c-d-|', {
          a: markStreamStart(chunk({ content: 'A' }), { resumed: false, stream: token }),
          b: markStreamStart(chunk({ content: 'B' }), { resumed: true, stream: token }),
          c: markStreamStart(chunk({ content: 'C' }), { resumed: false }),
          d: chunk({ content: 'D' }),
        });
        const marks: object[] = [];
        const result = source.pipe(accumulateContent());
        result.subscribe((snapshot) => marks.push(appendedOf(snapshot)!.fold));
        expectObservable(result.pipe(map((snapshot) => ({ chunk: appendedOf(snapshot)!.chunk, content: appendedOf(snapshot)!.content })))).toBe('-a-b-c-d-|', {
          a: { chunk: 1, content: 'A' },
          b: { chunk: 2, content: 'B' },
          c: { chunk: 1, content: 'C' },
          d: { chunk: 2, content: 'D' },
        });
        rx.flush();
        expect(marks[0]).toBe(marks[1]);
        expect(marks[2]).not.toBe(marks[1]);
        expect(marks[3]).toBe(marks[2]);
      });
    });

    it('gives no tool-call texts for a chunk that opened a call before an open one, since the positions moved', async () => {
      const folded = await foldMarked([
        tools({ index: 2, id: 'b', type: 'function', function: { name: 'g', arguments: '[1' } }),
        tools({ index: 0, id: 'a', type: 'function', function: { name: 'f', arguments: '{' } }),
        tools({ index: 2, function: { arguments: ']' } }),
      ]);
      expect(folded.map(({ mark }) => mark!.toolCalls)).toEqual([['[1'], undefined, ['', ']']]);
    });
  });

  it('tolerates chunks of the wrong shape: no choices, null delta', async () => {
    const snapshot = await last([
      { id: 'c1' } as ChatCompletionChunk,
      { id: 'c1', choices: [{ index: 0, delta: null as never, finish_reason: null }] },
      chunk({ content: 'ok' }),
    ]);
    expect(snapshot.content).toBe('ok');
  });
});
