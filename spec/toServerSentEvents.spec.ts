import { TestScheduler } from 'rxjs/testing';
import { NetworkError } from '../src/errors';
import { formatServerSentEvent } from '../src/server/formatServerSentEvent';
import { toServerSentEvents } from '../src/server/toServerSentEvents';
import { toNestMessageEvents } from '../src/server/toNestMessageEvents';
import { parseRelayedChunks } from '../src/operators/parseRelayedChunks';
import { markStreamStart } from '../src/streamStart';

const PING = ': ping\n\n';
const END = 'event: done\ndata: [DONE]\n\n';

describe('formatServerSentEvent', () => {
  it('writes each field, one data line per line, and the blank line that dispatches it', () => {
    expect(formatServerSentEvent({ id: '3', event: 'chunk', data: 'a\nb\r\nc\rd', retry: 2000 })).toBe(
      'event: chunk\nid: 3\nretry: 2000\ndata: a\ndata: b\ndata: c\ndata: d\n\n',
    );
    expect(formatServerSentEvent({ comment: 'ping' })).toBe(': ping\n\n');
    expect(formatServerSentEvent({ data: '' })).toBe('data: \n\n');
  });

  it('lets no line break out of event or id, drops NUL from id and a retry that is not a whole number', () => {
    expect(formatServerSentEvent({ event: 'x\ndata: injected', id: '1\r\n2\0', retry: 1.5, data: 'ok' })).toBe(
      'event: xdata: injected\nid: 12\ndata: ok\n\n',
    );
  });

  it('treats each kind of line break alone as well as mixed: a lone CR or LF in data, a NUL-only id, a comment of several lines', () => {
    expect(formatServerSentEvent({ id: 'a\0b', data: 'x\ry' })).toBe('id: ab\ndata: x\ndata: y\n\n');
    expect(formatServerSentEvent({ event: 'e\r', data: '\n' })).toBe('event: e\ndata: \ndata: \n\n');
    expect(formatServerSentEvent({ comment: 'one\r\ntwo' })).toBe(': one\n: two\n\n');
  });
});

describe('toServerSentEvents', () => {
  let rx: TestScheduler;
  beforeEach(() => {
    rx = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('sends values as JSON (strings as they are) with no id it could not honour, and ends with the end event', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-|', { a: { text: 'hi' }, b: 'plain' });
      const frames = source.pipe(toServerSentEvents({ heartbeat: 0 }));
      expectObservable(frames).toBe('-A-B-(E|)', { A: 'data: {"text":"hi"}\n\n', B: 'data: plain\n\n', E: END });
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it('sends a ping after every heartbeat of silence, and none once the stream has ended', () => {
    rx.run(({ cold, expectObservable }) => {
      const source = cold('-a 9ms b 2ms |', { a: 'a', b: 'b' });
      const frames = source.pipe(toServerSentEvents({ heartbeat: 4, toEvent: (data) => ({ data }) }));
      // a at 1, pings at 5 and 9, b at 11 (restarts the count), end at 14.
      expectObservable(frames).toBe('-a 3ms p 3ms p 1ms b 2ms (e|)', { a: 'data: a\n\n', b: 'data: b\n\n', p: PING, e: END });
    });
  });

  it('counts the silence from the last frame however many came before: frames closer than heartbeat never ping', () => {
    rx.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d-e-f 9ms |', { a: 'a', b: 'b', c: 'c', d: 'd', e: 'e', f: 'f' });
      const frames = source.pipe(toServerSentEvents({ heartbeat: 3, end: false, toEvent: (data) => ({ data }) }));
      // f at 11, then pings at 14, 17 and 20; the source ends at 21.
      expectObservable(frames).toBe('-a-b-c-d-e-f 2ms p 2ms p 2ms p|', {
        a: 'data: a\n\n',
        b: 'data: b\n\n',
        c: 'data: c\n\n',
        d: 'data: d\n\n',
        e: 'data: e\n\n',
        f: 'data: f\n\n',
        p: PING,
      });
    });
  });

  it('pings from the start while the first value is slow in coming', () => {
    rx.run(({ cold, expectObservable }) => {
      const frames = cold('10ms a|', { a: 'a' }).pipe(toServerSentEvents({ heartbeat: 4, end: false, toEvent: (data) => ({ data }) }));
      expectObservable(frames).toBe('4ms p 3ms p 1ms a|', { a: 'data: a\n\n', p: PING });
    });
  });

  it('turns an error into an error event and completes; a foreign error says no more than that it failed', () => {
    rx.run(({ cold, expectObservable }) => {
      const failing = cold('-a-#', { a: 'a' }, new NetworkError('fromChatCompletion: the connection broke.'));
      expectObservable(failing.pipe(toServerSentEvents({ heartbeat: 0 }))).toBe('-A-(X|)', {
        A: 'data: a\n\n',
        X: 'event: error\ndata: {"name":"NetworkError","message":"fromChatCompletion: the connection broke.","retryable":true}\n\n',
      });
      const foreign = cold('#', undefined, new Error('database password is hunter2'));
      expectObservable(foreign.pipe(toServerSentEvents({ heartbeat: 0 }))).toBe('(X|)', {
        X: 'event: error\ndata: {"name":"Error","message":"The stream failed.","retryable":false}\n\n',
      });
    });
  });

  it('unsubscribes upstream when the client goes away', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-|');
      expectObservable(source.pipe(toServerSentEvents({ heartbeat: 2, toEvent: (data) => ({ data }) })), '^--!').toBe('-a-', { a: 'data: a\n\n' });
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('sends a fresh-start mark after data as a restart event (the provider request was sent again), and one on the first value as it is', () => {
    rx.run(({ cold, expectObservable }) => {
      const fresh = (content: string) => markStreamStart({ content }, { resumed: false });
      const resumed = markStreamStart({ content: 'c' }, { resumed: true });
      const source = cold('-a-b-c-d-e-|', { a: fresh('a'), b: { content: 'b' }, c: resumed, d: fresh('a2'), e: { content: 'b2' } });
      expectObservable(source.pipe(toServerSentEvents({ heartbeat: 0 }))).toBe('-A-B-C-D-E-(F|)', {
        A: 'data: {"content":"a"}\n\n',
        B: 'data: {"content":"b"}\n\n',
        C: 'data: {"content":"c"}\n\n',
        D: 'event: restart\ndata: {"content":"a2"}\n\n',
        E: 'data: {"content":"b2"}\n\n',
        F: END,
      });
    });
  });

  it('rejects bad options before anything is subscribed', () => {
    expect(() => toServerSentEvents({ heartbeat: -1 })).toThrow(RangeError);
    expect(() => toServerSentEvents({ toEvent: 'x' as never })).toThrow(TypeError);
  });
});

describe('toNestMessageEvents', () => {
  it('gives every event its own id, so NestJS does not number them per connection, and ends with the end event', () => {
    new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(({ cold, expectObservable }) => {
      const events = cold('-a-b-#', { a: { n: 1 }, b: 'two' }, new Error('secret detail')).pipe(toNestMessageEvents({ heartbeat: 0 }));
      expectObservable(events).toBe('-A-B-(X|)', {
        A: { id: '0', data: '{"n":1}' },
        B: { id: '1', data: 'two' },
        X: { type: 'error', data: '{"name":"Error","message":"The stream failed.","retryable":false}' },
      });
      const ended = cold('-a|', { a: 'x' }).pipe(toNestMessageEvents({ heartbeat: 0, toEvent: (data) => ({ data, id: `s-${data}` }) }));
      expectObservable(ended).toBe('-A(E|)', { A: { id: 's-x', data: 'x' }, E: { type: 'done', data: '[DONE]' } });
    });
  });

  it('sends a typed ping event after every heartbeat of silence (Nest has no comment events), none after the end', () => {
    new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(({ cold, expectObservable }) => {
      const events = cold('-a 9ms b 2ms |', { a: 'a', b: 'b' }).pipe(toNestMessageEvents({ heartbeat: 4, toEvent: (data) => ({ data }) }));
      expectObservable(events).toBe('-a 3ms p 3ms p 1ms b 2ms (e|)', {
        a: { data: 'a' },
        b: { data: 'b' },
        p: { type: 'ping', data: '' },
        e: { type: 'done', data: '[DONE]' },
      });
    });
  });

  it('is on by default (15 s), and a fresh start after data is a restart event', () => {
    new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(({ cold, expectObservable }) => {
      const again = markStreamStart({ n: 2 }, { resumed: false });
      const events = cold('-a 20s b|', { a: { n: 1 }, b: again }).pipe(toNestMessageEvents({ end: false }));
      expectObservable(events).toBe('-a 14999ms p 5000ms b|', { a: { id: '0', data: '{"n":1}' }, p: { type: 'ping', data: '' }, b: { id: '1', type: 'restart', data: '{"n":2}' } });
    });
  });
});

describe('parseRelayedChunks and the Nest heartbeat', () => {
  it('skips ping events', () => {
    new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(({ cold, expectObservable }) => {
      const events = cold('-p-a-|', { p: { event: 'ping', data: '' }, a: { data: '{"id":"c"}' } }).pipe(parseRelayedChunks());
      expectObservable(events).toBe('---a-|', { a: { id: 'c' } });
    });
  });
});
