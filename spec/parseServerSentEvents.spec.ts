import { DONE } from '../src/index.js';
import { TestScheduler } from 'rxjs/testing';
import { defer, of, take } from 'rxjs';
import { freshMarker, markFirstFresh, parseServerSentEvents, SKIP, type EventSourceMessage } from '../src/transport';
import { streamStartOf } from '../src/streamStart';

function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('parseServerSentEvents', () => {
  it('emits each event when its last line arrives, across pieces and line ends', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const text = cold('-a-b-c-|', { a: 'data: one\n\nda', b: 'ta: two\r', c: '\n\r\n' });
      expectObservable(text.pipe(parseServerSentEvents({ source: 'test' }))).toBe('-a---c-|', { a: { data: 'one' }, c: { data: 'two' } });
    });
  });

  describe('with select', () => {
    const select = (event: EventSourceMessage) => (event.data === '' ? SKIP : event.data.toUpperCase());

    it('emits what select makes of each event, and leaves out what it makes SKIP', () => {
      testScheduler().run(({ cold, expectObservable }) => {
        const text = cold('-a-b-|', { a: 'data: one\n\ndata:\n\n', b: 'data: two\n\n' });
        expectObservable(text.pipe(parseServerSentEvents({ source: 'test', select }))).toBe('-a-b-|', { a: 'ONE', b: 'TWO' });
      });
    });

    it('errors the stream with what select throws, and parses no further', () => {
      const failure = new Error('bad payload');
      let calls = 0;
      const throwing = (event: EventSourceMessage) => {
        calls++;
        if (event.data === 'bad') throw failure;
        return event.data;
      };
      testScheduler().run(({ cold, expectObservable }) => {
        const text = cold('-a-b-|', { a: 'data: ok\n\ndata: bad\n\ndata: later\n\n', b: 'data: more\n\n' });
        expectObservable(text.pipe(parseServerSentEvents({ source: 'test', select: throwing }))).toBe('-(a#)', { a: 'ok' }, failure);
      });
      expect(calls).toBe(2);
    });

    it('calls select for no event after the subscriber has gone, even from the rest of the same piece', () => {
      const seen: string[] = [];
      testScheduler().run(({ cold, expectObservable }) => {
        const text = cold('-a-|', { a: 'data: 1\n\ndata: 2\n\ndata: 3\n\n' });
        const selected = text.pipe(parseServerSentEvents({ source: 'test', select: (event: EventSourceMessage) => (seen.push(event.data), event.data) }), take(1));
        expectObservable(selected).toBe('-(a|)', { a: '1' });
      });
      expect(seen).toEqual(['1']);
    });
  });
});

describe('freshMarker', () => {
  it('marks the first object it passes as a fresh start, and only that one; DONE and SKIP pass unmarked', () => {
    const markFresh = freshMarker<object | typeof DONE | typeof SKIP>();
    const values: (object | typeof DONE | typeof SKIP)[] = [DONE, SKIP, { n: 1 }, { n: 2 }];
    const passed = values.map(markFresh);
    expect(passed).toEqual(values);
    expect(passed.map((value) => streamStartOf(value))).toEqual([undefined, undefined, { resumed: false }, undefined]);
  });

  it('marks again for each subscription through markFirstFresh', () => {
    const source = defer(() => of(DONE, { n: 1 }, { n: 2 })).pipe(markFirstFresh());
    const marks: (boolean | undefined)[] = [];
    for (let subscription = 0; subscription < 2; subscription++) source.subscribe((value) => marks.push(streamStartOf(value)?.resumed));
    expect(marks).toEqual([undefined, false, undefined, undefined, false, undefined]);
  });
});
