import { asapScheduler, defer, filter, lastValueFrom, map, observeOn, Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { z } from 'zod';
import { parseJsonAsItStreams, type JsonSnapshot, type DeepPartial } from '../src/operators/parseJsonAsItStreams.js';
import { retryWithBackoff } from '../src/operators/retryWithBackoff.js';
import { accumulateContent } from '../src/operators/accumulateContent.js';
import { PartialJsonParser } from '../src/json/partialJson.js';
import { markStreamStart } from '../src/streamStart.js';
import { isRetryable, SchemaValidationError } from '../src/errors.js';
import type { ChatCompletionChunk, ChatCompletionSnapshot, ToolCallDelta, ToolCallSnapshot } from '../src/types.js';
import { isJsonPrefix } from './support/jsonPrefix';

const snapshot = (content: string, toolCalls: ToolCallSnapshot[] = []): ChatCompletionSnapshot => ({
  id: 'c1',
  content,
  reasoning: '',
  refusal: '',
  toolCalls,
  finishReason: null,
  choices: [],
});
const call = (index: number, name: string, args: string): ToolCallSnapshot => ({ index, id: `call_${index}`, type: 'function', function: { name, arguments: args } });

const Weather = z.object({ city: z.string(), days: z.array(z.number()) });

/** The fields a marble assertion compares: the parse, the validated value, each call's parsed arguments. */
const parses = (value: JsonSnapshot) => ({ partial: value.partial, value: value.value, calls: value.toolCalls.map((c) => c.parsedArguments) });

describe('parseJsonAsItStreams', () => {
  let rx: TestScheduler;
  beforeEach(() => {
    rx = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('adds the best parse of the content so far to every snapshot, and nothing at completion without a schema', () => {
    rx.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d-|', {
        a: snapshot('{"ci'),
        b: snapshot('{"city":"Os'),
        c: snapshot('{"city":"Oslo","days":[1'),
        d: snapshot('{"city":"Oslo","days":[1,2]}'),
      });
      expectObservable(source.pipe(parseJsonAsItStreams(), mapParses())).toBe('-a-b-c-d-|', {
        a: { partial: {}, value: undefined, calls: [] },
        b: { partial: { city: 'Os' }, value: undefined, calls: [] },
        c: { partial: { city: 'Oslo', days: [] }, value: undefined, calls: [] },
        d: { partial: { city: 'Oslo', days: [1, 2] }, value: undefined, calls: [] },
      });
    });
  });

  it('with a schema, emits the validated value when the stream completes', () => {
    rx.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-|', { a: snapshot('{"city":"Oslo","da'), b: snapshot('{"city":"Oslo","days":[3]}') });
      expectObservable(source.pipe(parseJsonAsItStreams({ schema: Weather }), mapParses())).toBe('-a-b-(c|)', {
        a: { partial: { city: 'Oslo' }, value: undefined, calls: [] },
        b: { partial: { city: 'Oslo', days: [3] }, value: undefined, calls: [] },
        c: { partial: { city: 'Oslo', days: [3] }, value: { city: 'Oslo', days: [3] }, calls: [] },
      });
    });
  });

  it('errors with a non-retryable SchemaValidationError carrying the issues, which retryWithBackoff does not retry', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-|', { a: snapshot('{"city":7,"days":[]}') });
      const result = source.pipe(parseJsonAsItStreams({ schema: Weather }), retryWithBackoff({ initialDelay: 10, jitter: 'none' }));
      expectObservable(result.pipe(mapParses())).toBe(
        '-a-#',
        { a: { partial: { city: 7, days: [] }, value: undefined, calls: [] } },
        expect.objectContaining({ name: 'SchemaValidationError', retryable: false, value: { city: 7, days: [] }, issues: [expect.objectContaining({ path: ['city'] })] }),
      );
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('with retryOnMismatch, lets retryWithBackoff ask again after a mismatch', () => {
    rx.run(({ cold, expectObservable }) => {
      const answers = [cold('-a-|', { a: snapshot('{"city":"Oslo"}') }), cold('-b-|', { b: snapshot('{"city":"Oslo","days":[4]}') })];
      let attempt = 0;
      const source = defer(() => answers[attempt++]!);
      const result = source.pipe(parseJsonAsItStreams({ schema: Weather, retryOnMismatch: true }), retryWithBackoff({ initialDelay: 10, jitter: 'none' }));
      expectObservable(result.pipe(mapParses())).toBe('-a- 10ms -b-(c|)', {
        a: { partial: { city: 'Oslo' }, value: undefined, calls: [] },
        b: { partial: { city: 'Oslo', days: [4] }, value: undefined, calls: [] },
        c: { partial: { city: 'Oslo', days: [4] }, value: { city: 'Oslo', days: [4] }, calls: [] },
      });
    });
  });

  it('turns an answer that is not complete JSON into a SchemaValidationError', () => {
    rx.run(({ cold, expectObservable }) => {
      const source = cold('-a-|', { a: snapshot('{"city":"Oslo","days":[1') });
      expectObservable(source.pipe(parseJsonAsItStreams({ schema: Weather }), mapParses())).toBe(
        '-a-#',
        { a: { partial: { city: 'Oslo', days: [] }, value: undefined, calls: [] } },
        expect.objectContaining({ name: 'SchemaValidationError', issues: [{ message: expect.stringContaining('not one complete JSON value') }] }),
      );
    });
  });

  it('parses every tool call and takes the answer from the named tool (Anthropic forced tool)', () => {
    rx.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-|', {
        a: snapshot('Let me', [call(0, 'log', '{"n":'), call(1, 'weather', '')]),
        b: snapshot('Let me', [call(0, 'log', '{"n":1}'), call(1, 'weather', '{"city":"Oslo","days":[]}')]),
      });
      const result = source.pipe(parseJsonAsItStreams({ schema: Weather, answerFrom: { toolName: 'weather' } }), mapParses());
      expectObservable(result).toBe('-a-b-(c|)', {
        a: { partial: undefined, value: undefined, calls: [{}, undefined] },
        b: { partial: { city: 'Oslo', days: [] }, value: undefined, calls: [{ n: 1 }, { city: 'Oslo', days: [] }] },
        c: { partial: { city: 'Oslo', days: [] }, value: { city: 'Oslo', days: [] }, calls: [{ n: 1 }, { city: 'Oslo', days: [] }] },
      });
    });
  });

  it('starts a parse over when the text does not extend the previous one (a restarted request)', () => {
    rx.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-|', { a: snapshot('{"city":"Oslo","days":[1,'), b: snapshot('["x'), c: snapshot('{"city":"Bergen","days":[1,2]}') });
      expectObservable(source.pipe(parseJsonAsItStreams(), mapParses())).toBe('-a-b-c-|', {
        a: { partial: { city: 'Oslo', days: [1] }, value: undefined, calls: [] },
        b: { partial: ['x'], value: undefined, calls: [] },
        c: { partial: { city: 'Bergen', days: [1, 2] }, value: undefined, calls: [] },
      });
    });
  });

  it('keeps the identity of unchanged parses and tool calls, so change detection by reference works', () => {
    const outputs: JsonSnapshot[] = [];
    rx.run(({ cold }) => {
      const first = call(0, 'log', '{"a":{"b":1},"c":[');
      cold('-a-b-c-', { a: snapshot('{"x":[1,', [first]), b: snapshot('{"x":[1,  ', [first]), c: snapshot('{"x":[1,2,', [first]) })
        .pipe(parseJsonAsItStreams())
        .subscribe((value) => outputs.push(value));
    });
    // b changes no parse, so it is not emitted at all.
    expect(outputs).toHaveLength(2);
    const [a, c] = outputs;
    expect(c!.partial).not.toBe(a!.partial);
    expect(c!.toolCalls[0]).toBe(a!.toolCalls[0]);
    expect(Object.isFrozen(c!.partial)).toBe(true);
  });

  it('emits values that only grow, from the first snapshot to the validated value', () => {
    const text = JSON.stringify({ city: 'Tromsø "north"', days: [1, -2.5e3, 30] });
    const outputs: JsonSnapshot[] = [];
    rx.run(({ cold }) => {
      const values = Object.fromEntries([...text].map((_, i) => [String.fromCharCode(0x100 + i), snapshot(text.slice(0, i + 1))]));
      cold(`${Object.keys(values).join('')}|`, values).pipe(parseJsonAsItStreams({ schema: Weather })).subscribe((value) => outputs.push(value));
    });
    expect(outputs.length).toBeGreaterThan(10);
    expect(outputs.length).toBeLessThan(text.length);
    for (let i = 0; i + 1 < outputs.length; i++) expect(isJsonPrefix(outputs[i]!.partial, outputs[i + 1]!.partial)).toBe(true);
    // Every emission but the validated value shows a parse the one before did not.
    for (let i = 0; i + 2 < outputs.length; i++) expect(outputs[i + 1]!.partial).not.toEqual(outputs[i]!.partial);
    expect(outputs.at(-1)!.value).toEqual(JSON.parse(text));
  });

  describe('behind accumulateContent', () => {
    const text = (content: string): ChatCompletionChunk => ({ id: 'c1', choices: [{ index: 0, delta: { content }, finish_reason: null }] });
    const args = (...tool_calls: ToolCallDelta[]): ChatCompletionChunk => ({ id: 'c1', choices: [{ index: 0, delta: { tool_calls }, finish_reason: null }] });

    it('reads each fragment from the mark, never the whole string: 1 MB of arguments in 10,000 fragments reads about 1 MB', () => {
      let code = '';
      for (let i = 0; code.length < 1_000_000; i++) code += `const value${i} = "text ${i}"; // \u2713\n`;
      const document = JSON.stringify({ path: 'src/app.ts', code });
      const chunks = new Subject<ChatCompletionChunk>();
      let last: unknown;
      chunks.pipe(accumulateContent(), parseJsonAsItStreams({ answerFrom: { toolName: 'write' } })).subscribe((value) => (last = value.partial));
      // Every string the operator or its parser slices, by its length. Slicing
      // the new text out of each snapshot (what V8 flattens: a copy of the
      // whole) would slice strings up to 1 MB long, about 10,000 × 1 MB / 2 in
      // all. Cutting a fragment into tokens slices it a few times.
      const slice = String.prototype.slice;
      let sliced = 0;
      let longest = 0;
      let fed = 0;
      const originalPush = PartialJsonParser.prototype.push;
      const push = jest.spyOn(PartialJsonParser.prototype, 'push').mockImplementation(function (this: PartialJsonParser, fragment: string) {
        fed += fragment.length;
        originalPush.call(this, fragment);
      });
      let fragments = 0;
      String.prototype.slice = function (this: string, ...bounds: [number?, number?]) {
        sliced += this.length;
        longest = Math.max(longest, this.length);
        return slice.apply(this, bounds);
      };
      try {
        for (let k = 0; k < 10_000; k++) {
          const piece = slice.call(document, Math.floor((k * document.length) / 10_000), Math.floor(((k + 1) * document.length) / 10_000));
          chunks.next(args(k === 0 ? { index: 0, id: 'call_1', type: 'function', function: { name: 'write', arguments: piece } } : { index: 0, function: { arguments: piece } }));
          fragments++;
        }
      } finally {
        String.prototype.slice = slice;
        push.mockRestore();
      }
      expect(fragments).toBe(10_000);
      expect(fed).toBe(document.length);
      expect(longest).toBeLessThan(1_000);
      expect(sliced).toBeLessThan(20 * document.length);
      expect(last).toEqual(JSON.parse(document));
    });

    it('reads the whole string when it did not see the snapshot before (a filter in between), and parses right', () => {
      rx.run(({ cold, expectObservable }) => {
        const source = cold('-a-b-c-d-|', { a: text('{"a":'), b: text('"x'), c: text('y"'), d: text(',"b":[1]}') });
        const skipping = source.pipe(
          accumulateContent(),
          filter((snapshot) => snapshot.content.length !== 7),
          parseJsonAsItStreams(),
        );
        expectObservable(skipping.pipe(mapParses())).toBe('-a---c-d-|', {
          a: { partial: {}, value: undefined, calls: [] },
          c: { partial: { a: 'xy' }, value: undefined, calls: [] },
          d: { partial: { a: 'xy', b: [1] }, value: undefined, calls: [] },
        });
      });
    });

    it('starts its parse over when the fold starts over (a fresh request after a retry)', () => {
      rx.run(({ cold, expectObservable }) => {
        const source = cold('-a-b-c-d-|', {
          a: markStreamStart(text('{"city":"Os'), { resumed: false }),
          b: text('lo"'),
          c: markStreamStart(text('{"city":"Be'), { resumed: false }),
          d: text('rgen"}'),
        });
        expectObservable(source.pipe(accumulateContent(), parseJsonAsItStreams(), mapParses())).toBe('-a-b-c-d-|', {
          a: { partial: { city: 'Os' }, value: undefined, calls: [] },
          b: { partial: { city: 'Oslo' }, value: undefined, calls: [] },
          c: { partial: { city: 'Be' }, value: undefined, calls: [] },
          d: { partial: { city: 'Bergen' }, value: undefined, calls: [] },
        });
      });
    });

    it('keeps each call\'s parse with its call when a call opens before an open one', () => {
      rx.run(({ cold, expectObservable }) => {
        const source = cold('-a-b-c-|', {
          a: args({ index: 2, id: 'b', type: 'function', function: { name: 'g', arguments: '[1,' } }),
          b: args({ index: 0, id: 'a', type: 'function', function: { name: 'f', arguments: '{"k":' } }),
          c: args({ index: 2, function: { arguments: '2]' } }, { index: 0, function: { arguments: 'true}' } }),
        });
        expectObservable(source.pipe(accumulateContent(), parseJsonAsItStreams(), mapParses())).toBe('-a-b-c-|', {
          a: { partial: undefined, value: undefined, calls: [[1]] },
          b: { partial: undefined, value: undefined, calls: [{}, [1]] },
          c: { partial: undefined, value: undefined, calls: [{ k: true }, [1, 2]] },
        });
      });
    });
  });

  describe('restarts are never guessed', () => {
    // The new text differs early ("other" for "first") and ends in the same 40 characters as the old one.
    const ending = ',"padding":"' + 'x'.repeat(40);
    const first = '{"a":"first"' + ending;
    const other = '{"a":"other"' + ending;
    const Answer = z.object({ a: z.string(), padding: z.string() });

    it('snapshots made elsewhere: a restart whose text ends like the old one is parsed afresh, and the validated value is the new text\'s', () => {
      rx.run(({ cold, expectObservable }) => {
        const source = cold('-a-b-c-|', { a: snapshot(first), b: snapshot(other), c: snapshot(other + '"}') });
        // c closes the string and the object: no parse changes, so it is not emitted.
        expectObservable(source.pipe(parseJsonAsItStreams({ schema: Answer }), map((value) => value.value ?? value.partial))).toBe('-a-b---(v|)', {
          a: { a: 'first', padding: 'x'.repeat(40) },
          b: { a: 'other', padding: 'x'.repeat(40) },
          v: { a: 'other', padding: 'x'.repeat(40) },
        });
      });
    });

    it('behind accumulateContent: a fresh request (the explicit mark) starts the parse over, whatever its text ends with', () => {
      const text = (content: string): ChatCompletionChunk => ({ id: 'c1', choices: [{ index: 0, delta: { content }, finish_reason: null }] });
      rx.run(({ cold, expectObservable }) => {
        const source = cold('-a-b-c-|', {
          a: text(first),
          b: markStreamStart(text(other), { resumed: false }),
          c: text('"}'),
        });
        expectObservable(source.pipe(accumulateContent(), parseJsonAsItStreams({ schema: Answer }), map((value) => value.value ?? value.partial))).toBe('-a-b---(v|)', {
          a: { a: 'first', padding: 'x'.repeat(40) },
          b: { a: 'other', padding: 'x'.repeat(40) },
          v: { a: 'other', padding: 'x'.repeat(40) },
        });
      });
    });
  });

  it('behind an asynchronous step (observeOn) still reads only the new text of each snapshot: 200 KB in 2,000 fragments', async () => {
    let code = '';
    for (let i = 0; code.length < 200_000; i++) code += `const value${i} = "text ${i}"; // \u2713\n`;
    const document = JSON.stringify({ path: 'src/app.ts', code });
    const chunks = new Subject<ChatCompletionChunk>();
    const slice = String.prototype.slice;
    let longest = 0;
    const done = lastValueFrom(chunks.pipe(accumulateContent(), observeOn(asapScheduler), parseJsonAsItStreams()));
    String.prototype.slice = function (this: string, ...bounds: [number?, number?]) {
      longest = Math.max(longest, this.length);
      return slice.apply(this, bounds);
    };
    try {
      for (let k = 0; k < 2_000; k++) {
        const piece = slice.call(document, Math.floor((k * document.length) / 2_000), Math.floor(((k + 1) * document.length) / 2_000));
        chunks.next({ id: 'c1', choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
        await Promise.resolve();
      }
      chunks.complete();
      const last = await done;
      expect(last.partial).toEqual(JSON.parse(document));
    } finally {
      String.prototype.slice = slice;
    }
    expect(longest).toBeLessThan(1_000);
  });

  describe('emits when a parse changes', () => {
    it('skips snapshots whose text changes no parse (an unfinished number, a key, a closing quote or brace), and emits a change of finish reason', () => {
      rx.run(({ cold, expectObservable }) => {
        const source = cold('-a-b-c-d-e-f-g-|', {
          a: snapshot('{"a":1'),
          b: snapshot('{"a":12'),
          c: snapshot('{"a":12 '),
          d: snapshot('{"a":12 ,"bb'),
          e: snapshot('{"a":12 ,"bb":"x'),
          f: snapshot('{"a":12 ,"bb":"x"}'),
          g: { ...snapshot('{"a":12 ,"bb":"x"}'), finishReason: 'stop' },
        });
        expectObservable(source.pipe(parseJsonAsItStreams(), map((value) => [value.partial, value.finishReason]))).toBe('-a---c---e---g-|', {
          a: [{}, null],
          c: [{ a: 12 }, null],
          e: [{ a: 12, bb: 'x' }, null],
          g: [{ a: 12, bb: 'x' }, 'stop'],
        });
      });
    });

    it('emits a change of a tool call\'s parsed arguments, and at completion the last snapshot when it was held back', () => {
      rx.run(({ cold, expectObservable }) => {
        const source = cold('-a-b-c-|', {
          a: snapshot('', [call(0, 'f', '{"k":')]),
          b: snapshot('', [call(0, 'f', '{"k":1')]),
          c: snapshot('', [call(0, 'f', '{"k":1}')]),
        });
        expectObservable(source.pipe(parseJsonAsItStreams(), map((value) => [value.toolCalls[0]!.function.arguments, value.toolCalls[0]!.parsedArguments]))).toBe('-a---c-|', {
          a: ['{"k":', {}],
          c: ['{"k":1}', { k: 1 }],
        });
        const held = cold('-a-b-|', { a: snapshot('[1,'), b: snapshot('[1, ') });
        expectObservable(held.pipe(parseJsonAsItStreams({ answerFrom: { toolName: 'none' } }), map((value) => value.content))).toBe('-a---(b|)', { a: '[1,', b: '[1, ' });
      });
    });
  });

  describe('without a schema, an answer that is not JSON ends in a typed error', () => {
    it.each([
      ['truncated', '{"a":[1,2'],
      ['invalid after the last good character', '{"a":1}}'],
      ['not JSON at all', 'Sure! Here is'],
    ])('%s: SchemaValidationError, not a silent completion', (_name, text) => {
      rx.run(({ cold, expectObservable }) => {
        const source = cold('-a-|', { a: snapshot(text) });
        expectObservable(source.pipe(parseJsonAsItStreams(), map(() => 'v'))).toBe(
          '-a-#',
          { a: 'v' },
          expect.objectContaining({ name: 'SchemaValidationError', issues: [{ message: expect.stringContaining('not one complete JSON value') }] }),
        );
      });
    });

    it('completes quietly when the answer never began (a reply with tool calls only)', () => {
      rx.run(({ cold, expectObservable }) => {
        const source = cold('-a-|', { a: snapshot('', [call(0, 'f', '{"k":1}')]) });
        expectObservable(source.pipe(parseJsonAsItStreams(), map(() => 'v'))).toBe('-a-|', { a: 'v' });
      });
    });
  });

  it('types the partial value with the schema\'s input (what the text holds) and the value with its output', () => {
    const Shape = z.object({ count: z.string().transform((text) => text.length) });
    rx.run(({ cold }) => {
      cold('-a-|', { a: snapshot('{"count":"abc"}') })
        .pipe(parseJsonAsItStreams({ schema: Shape }))
        .subscribe((value) => {
          const raw: string | undefined = value.partial?.count;
          const counted: number | undefined = value.value?.count;
          // @ts-expect-error the partial holds the raw string, not the transformed number
          const wrong: number | undefined = value.partial?.count;
          expect([raw, counted, wrong]).toBeDefined();
        });
    });
  });

  it('types the partial value as a deep-partial of the schema output and the value as the output', () => {
    rx.run(({ cold }) => {
      cold('-a-|', { a: snapshot('{"city":"Oslo","days":[]}') })
        .pipe(parseJsonAsItStreams({ schema: Weather }))
        .subscribe((value) => {
          const partial: DeepPartial<{ city: string; days: number[] }> | undefined = value.partial;
          const city: string | undefined = value.value?.city;
          // @ts-expect-error days are numbers, not strings
          const wrong: string | undefined = value.partial?.days?.[0];
          expect([partial, city, wrong]).toBeDefined();
        });
    });
  });

  it.each([
    [{ schema: {} }, /Standard Schema/],
    [{ answerFrom: { toolName: '' } }, /answerFrom/],
    [{ answerFrom: 'tools' }, /answerFrom/],
    [{ retryOnMismatch: 'yes' }, /retryOnMismatch/],
  ])('rejects bad options at once with a TypeError: %j', (options, message) => {
    expect(() => parseJsonAsItStreams(options as never)).toThrow(TypeError);
    expect(() => parseJsonAsItStreams(options as never)).toThrow(message);
  });

  it('gives SchemaValidationError a stable name and a message with the issue paths', () => {
    const error = new SchemaValidationError([{ message: 'Expected string', path: ['items', 0, { key: 'name' }] }], {});
    expect(error.name).toBe('SchemaValidationError');
    expect(error.message).toContain('items.0.name: Expected string');
    expect(isRetryable(error)).toBe(false);
    expect(isRetryable(new SchemaValidationError([], {}, true))).toBe(true);
  });
});

function mapParses() {
  return map(parses);
}
