import { from, lastValueFrom, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { accumulateContent } from '../src/operators/accumulateContent.js';
import type { ChatCompletionChunk, ChatCompletionChunkChoice, ChatCompletionDelta, ChatCompletionSnapshot, ToolCallDelta, Usage } from '../src/types.js';

const chunk = (delta: ChatCompletionDelta, extra: Partial<ChatCompletionChunkChoice> & { id?: string; model?: string } = {}): ChatCompletionChunk => {
  const { id = 'c1', model = 'm', ...choice } = extra;
  return { id, model, choices: [{ index: 0, delta, finish_reason: null, ...choice }] };
};
const tools = (...tool_calls: ToolCallDelta[]) => chunk({ tool_calls });
const usage: Usage = { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 };

/** Folds the chunks and returns every snapshot. */
const fold = (chunks: ChatCompletionChunk[]) => lastValueFrom(from(chunks).pipe(accumulateContent(), toArray()));
const last = async (chunks: ChatCompletionChunk[]) => (await fold(chunks)).at(-1)!;

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

  it('starts over when a chunk brings another completion id, so text is never duplicated', () => {
    rx.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d-|', {
        a: chunk({ content: 'Hel' }, { id: 'first' }),
        b: chunk({ content: 'lo' }, { id: 'first' }),
        c: chunk({ content: 'Hel' }, { id: 'second' }),
        d: chunk({ content: 'lo!' }, { id: 'second' }),
      });
      const content = (id: string, text: string) => expect.objectContaining({ id, content: text });
      expectObservable(source.pipe(accumulateContent())).toBe('-a-b-c-d-|', {
        a: content('first', 'Hel'),
        b: content('first', 'Hello'),
        c: content('second', 'Hel'),
        d: content('second', 'Hello!'),
      });
    });
  });

  it('does not start over for chunks with an empty or missing id', async () => {
    const snapshot = await last([chunk({ content: 'a' }, { id: 'c9' }), chunk({ content: 'b' }, { id: '' }), { ...chunk({ content: 'c' }), id: undefined as never }]);
    expect(snapshot).toMatchObject({ id: 'c9', content: 'abc' });
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

  it('tolerates chunks of the wrong shape: no choices, null delta', async () => {
    const snapshot = await last([
      { id: 'c1' } as ChatCompletionChunk,
      { id: 'c1', choices: [{ index: 0, delta: null as never, finish_reason: null }] },
      chunk({ content: 'ok' }),
    ]);
    expect(snapshot.content).toBe('ok');
  });
});
