import fc from 'fast-check';
import { PartialJsonParser } from '../src/json/partialJson.js';
import { isDeeplyFrozen, isJsonPrefix } from './support/jsonPrefix';

/** Cuts `text` at the given offsets (sorted, deduplicated) into fragments. */
function split(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((cut) => cut % (text.length + 1)))].sort((x, y) => x - y);
  const fragments: string[] = [];
  let start = 0;
  for (const point of [...points, text.length]) {
    fragments.push(text.slice(start, point));
    start = point;
  }
  return fragments;
}

/** Feeds the fragments one at a time and returns the value read after each, then the finished value. */
function feed(fragments: string[]): { partials: unknown[]; whole: unknown } {
  const parser = new PartialJsonParser();
  const partials = fragments.map((fragment) => {
    parser.push(fragment);
    return parser.value();
  });
  return { partials, whole: parser.finish() };
}

const jsonText = fc
  .tuple(fc.jsonValue({ maxDepth: 4, stringUnit: fc.constantFrom('a', 'é', '中', '😀', '"', '\\', '\n', '\u0001', '\ud83d') }), fc.constantFrom(undefined, 2, '\t'))
  // Strings of quotes, backslashes, control characters (escaped), non-ASCII, surrogate pairs and a lone surrogate (\ud83d).
  .map(([value, indent]) => JSON.stringify(value, null, indent));

describe('PartialJsonParser', () => {
  it('for any JSON text cut anywhere, every value read is a prefix of the next and of the final one, which equals JSON.parse', () => {
    fc.assert(
      fc.property(jsonText, fc.array(fc.nat(), { maxLength: 40 }), (text, cuts) => {
        const { partials, whole } = feed(split(text, cuts));
        expect(whole).toEqual(JSON.parse(text));
        const all = [...partials, whole];
        for (let i = 0; i + 1 < all.length; i++) {
          expect(isJsonPrefix(all[i], all[i + 1])).toBe(true);
          expect(isJsonPrefix(all[i], whole)).toBe(true);
        }
        expect(partials.every(isDeeplyFrozen)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('read one character at a time, the value grows through every prefix of every document', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        const { partials, whole } = feed([...text]);
        for (let i = 0; i + 1 < partials.length; i++) expect(isJsonPrefix(partials[i], partials[i + 1])).toBe(true);
        expect(whole).toEqual(JSON.parse(text));
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    ['{"city":"Os', { city: 'Os' }],
    ['{"city":"Oslo","days":1', { city: 'Oslo' }],
    ['{"city":"Oslo","days":12,', { city: 'Oslo', days: 12 }],
    ['{"ok":tr', {}],
    ['{"ok":true', { ok: true }],
    ['{"ci', {}],
    ['{"city"', {}],
    ['{"city":', {}],
    ['[1,{"a":[2,"x\\u00', [1, { a: [2, 'x'] }]],
    ['[1,{"a":[2,"x\\u00e9', [1, { a: [2, 'xé'] }]],
    ['"tex', 'tex'],
    ['-12', undefined],
    ['  ', undefined],
  ])('reads %j as %j', (text, expected) => {
    const parser = new PartialJsonParser();
    parser.push(text);
    expect(parser.value()).toEqual(expected);
  });

  it('keeps the identity of a value when the new text shows nothing new, and of finished parts', () => {
    const parser = new PartialJsonParser();
    parser.push('{"done":{"a":1},"list":[1,');
    const first = parser.value() as { done: object; list: number[] };
    parser.push('  ');
    expect(parser.value()).toBe(first);
    parser.push('2,');
    const second = parser.value() as { done: object; list: number[] };
    expect(second).not.toBe(first);
    expect(second.done).toBe(first.done);
    expect(second.list).toEqual([1, 2]);
  });

  it('keeps "__proto__" a plain key, as JSON.parse does', () => {
    const parser = new PartialJsonParser();
    parser.push('{"__proto__":{"polluted":true},"a":1}');
    const value = parser.finish() as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__', 'a']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each(['{"a" 1}', '[1,]', '{"a":01}', '"\u0001"', '[1] x', 'nul!', '{"a":"\\x"}', '[1}'])('stops at a syntax error in %j and says so from finish()', (text) => {
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
    const parser = new PartialJsonParser();
    parser.push(text);
    expect(parser.failed).toBe(true);
    expect(() => parser.finish()).toThrow(SyntaxError);
  });

  it('fails on an unfinished text at finish()', () => {
    const parser = new PartialJsonParser();
    parser.push('{"a":[1');
    expect(() => parser.finish()).toThrow(/end of JSON input/);
  });

  it('ends a number at the end of the text only at finish()', () => {
    const parser = new PartialJsonParser();
    parser.push('4');
    parser.push('2');
    expect(parser.value()).toBeUndefined();
    expect(parser.finish()).toBe(42);
  });

  it('refuses nesting deeper than its cap with an error instead of a RangeError', () => {
    const parser = new PartialJsonParser(64);
    parser.push('['.repeat(6000));
    expect(parser.failed).toBe(true);
    expect(() => parser.finish()).toThrow(/nested deeper than 64/);
  });
});

/** Every string inside `value` (keys excluded). */
function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object') return [];
  return Object.values(value).flatMap(stringsIn);
}

const endsInLoneHighSurrogate = (text: string) => {
  const last = text.charCodeAt(text.length - 1);
  return last >= 0xd800 && last <= 0xdbff;
};

describe('PartialJsonParser: right, not just monotone', () => {
  // Documents whose strings hold emoji, some written as escapes (\ud83d\ude00), never a lone surrogate.
  const emojiText = fc
    .tuple(fc.jsonValue({ maxDepth: 3, stringUnit: fc.constantFrom('a', '中', '😀', '🎉') }), fc.boolean())
    .map(([value, escaped]) => {
      const text = JSON.stringify(value);
      return escaped ? text.replace(/😀/g, '\\ud83d\\ude00') : text;
    });

  it('never shows half of a surrogate pair at the end of a partial string, however the text is cut', () => {
    fc.assert(
      fc.property(emojiText, fc.array(fc.nat(), { maxLength: 60 }), (text, cuts) => {
        const { partials, whole } = feed(split(text, cuts));
        expect(whole).toEqual(JSON.parse(text));
        for (const partial of partials) expect(stringsIn(partial).filter(endsInLoneHighSurrogate)).toEqual([]);
        for (let i = 0; i + 1 < partials.length; i++) expect(isJsonPrefix(partials[i], partials[i + 1])).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('holds back a high surrogate until its pair arrives, raw or escaped', () => {
    for (const [first, second] of [
      ['{"a":"x\ud83d', '\ude00"}'],
      ['{"a":"x\\ud83d', '\\ude00"}'],
    ]) {
      const parser = new PartialJsonParser();
      parser.push(first!);
      expect(parser.value()).toEqual({ a: 'x' });
      parser.push(second!);
      expect(parser.value()).toEqual({ a: 'x😀' });
    }
  });

  it('keeps the first value of a repeated key, in every partial and in the whole value: a field never changes type', () => {
    const member = fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value));
    fc.assert(
      fc.property(member, member, member, fc.array(fc.nat(), { maxLength: 40 }), (first, second, third, cuts) => {
        const text = `{"a":${first},"b":1,"a":${second},"a":${third}}`;
        const { partials, whole } = feed(split(text, cuts));
        const all = [...partials, whole];
        for (let i = 0; i + 1 < all.length; i++) expect(isJsonPrefix(all[i], all[i + 1])).toBe(true);
        expect(whole).toEqual({ a: JSON.parse(first), b: 1 });
      }),
      { numRuns: 300 },
    );
  });

  it('after a syntax error, stays at the value of the last good character, however the text is cut', () => {
    fc.assert(
      fc.property(jsonText, fc.constantFrom('}', ']', 'x', ',', '"', '}}'), fc.array(fc.nat(), { maxLength: 40 }), (text, garbage, cuts) => {
        const { partials } = feedWithoutFinish(split(text + garbage, cuts));
        for (let i = 0; i + 1 < partials.length; i++) expect(isJsonPrefix(partials[i], partials[i + 1])).toBe(true);
        expect(partials[partials.length - 1]).toEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it('reads {"a":1 then }} as {} then { a: 1 }, not undefined', () => {
    const { partials } = feedWithoutFinish(['{"a":1', '}}']);
    expect(partials).toEqual([{}, { a: 1 }]);
  });
});

function feedWithoutFinish(fragments: string[]): { partials: unknown[] } {
  const parser = new PartialJsonParser();
  return {
    partials: fragments.map((fragment) => {
      parser.push(fragment);
      return parser.value();
    }),
  };
}

describe('PartialJsonParser: the value read costs in proportion to the text, not to the document', () => {
  /** Elements copied by Array.prototype.slice while `run` runs. */
  function countCopies(run: () => void): number {
    const slice = Array.prototype.slice;
    let copied = 0;
    Array.prototype.slice = function (this: unknown[], ...bounds: [number?, number?]) {
      copied += this.length;
      return slice.apply(this, bounds);
    };
    try {
      run();
    } finally {
      Array.prototype.slice = slice;
    }
    return copied;
  }

  it('reading after every 4-character fragment of a 4,000-record open array copies O(text) elements, not O(records × fragments)', () => {
    const records = Array.from({ length: 4_000 }, (_, i) => ({ i, s: 'x' }));
    const text = JSON.stringify(records);
    const parser = new PartialJsonParser();
    let last: unknown;
    let reads = 0;
    const copied = countCopies(() => {
      for (let at = 0; at < text.length; at += 4) {
        parser.push(text.slice(at, at + 4));
        last = parser.current();
        reads++;
      }
    });
    expect(reads).toBeGreaterThan(10_000);
    // Copying the open array at every read would copy about 4,000 × 10,000 / 2 = 20M elements.
    expect(copied).toBeLessThan(40 * text.length);
    expect(last).toEqual(records);
    expect(parser.current()).toBe(parser.value());
  });

  it('current() is always a prefix of the latest value, only grows, and is the latest value at the end', () => {
    fc.assert(
      fc.property(jsonText, fc.array(fc.nat(), { maxLength: 40 }), (text, cuts) => {
        const parser = new PartialJsonParser();
        const seen: unknown[] = [];
        for (const fragment of split(text, cuts)) {
          parser.push(fragment);
          seen.push(parser.current());
          expect(isJsonPrefix(seen.at(-1), parser.value())).toBe(true);
        }
        for (let i = 0; i + 1 < seen.length; i++) expect(isJsonPrefix(seen[i], seen[i + 1])).toBe(true);
        expect(parser.current()).toEqual(parser.value());
        expect(parser.finish()).toEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });
});
