import { defer, Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { withStreamStatus, type StreamState } from '../src/operators/withStreamStatus.js';
import { markStreamStart } from '../src/streamStart.js';
import { HttpError } from '../src/errors.js';

const unavailable = new HttpError(503, 'HTTP 503');
const unauthorized = new HttpError(401, 'HTTP 401');

const state = (change: Partial<StreamState<string>>): StreamState<string> => ({
  status: 'connecting',
  snapshot: undefined,
  attempt: 1,
  maxAttempts: 3,
  retryInMs: undefined,
  error: undefined,
  ...change,
});

describe('withStreamStatus', () => {
  let rx: TestScheduler;
  beforeEach(() => {
    rx = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('goes connecting, streaming, retrying, connecting, streaming, done; the retry replaces the text', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold('-a-#', { a: 'Hel' }, unavailable);
      const second = cold('-b-c-|', { b: 'Hel', c: 'Hello' });
      let attempts = 0;
      const source = defer(() => (attempts++ === 0 ? first : second));
      const result = source.pipe(withStreamStatus({ retry: { initialDelay: 5, maxRetries: 2, jitter: 'none' } }));
      expectObservable(result).toBe('ca-r 4ms kb-d-(e|)', {
        c: state({}),
        k: state({ snapshot: 'Hel', attempt: 2 }),
        a: state({ status: 'streaming', snapshot: 'Hel' }),
        r: state({ status: 'retrying', snapshot: 'Hel', retryInMs: 5, error: unavailable }),
        // connecting again at frame 8: attempt 2, still showing the old snapshot until new text comes
        b: state({ status: 'streaming', snapshot: 'Hel', attempt: 2 }),
        d: state({ status: 'streaming', snapshot: 'Hello', attempt: 2 }),
        e: state({ status: 'done', snapshot: 'Hello', attempt: 2 }),
      });
      expectSubscriptions(first.subscriptions).toBe('^--!');
      expectSubscriptions(second.subscriptions).toBe('8ms ^----!');
    });
  });

  it('errors after the retries by default, and ends with a failed state when errorsAsState', () => {
    rx.run(({ cold, expectObservable }) => {
      const failing = cold('-#', undefined, unauthorized);
      expectObservable(failing.pipe(withStreamStatus())).toBe('c#', { c: state({ maxAttempts: 11 }) }, unauthorized);
      expectObservable(failing.pipe(withStreamStatus({ errorsAsState: true }))).toBe('c(f|)', {
        c: state({ maxAttempts: 11 }),
        f: state({ status: 'failed', maxAttempts: 11, error: unauthorized }),
      });
    });
  });

  it('gives up after maxRetries with a failed state that keeps the text so far', () => {
    rx.run(({ cold, expectObservable }) => {
      const source = cold('-a#', { a: 'x' }, unavailable);
      const result = source.pipe(withStreamStatus({ retry: { initialDelay: 2, maxRetries: 1, jitter: 'none' }, errorsAsState: true }));
      expectObservable(result).toBe('car 1ms kb(f|)', {
        c: state({ maxAttempts: 2 }),
        a: state({ status: 'streaming', snapshot: 'x', maxAttempts: 2 }),
        r: state({ status: 'retrying', snapshot: 'x', maxAttempts: 2, retryInMs: 2, error: unavailable }),
        k: state({ snapshot: 'x', attempt: 2, maxAttempts: 2 }),
        b: state({ status: 'streaming', snapshot: 'x', attempt: 2, maxAttempts: 2 }),
        f: state({ status: 'failed', snapshot: 'x', attempt: 2, maxAttempts: 2, error: unavailable }),
      });
    });
  });

  it('stops on the stop notifier: unsubscribes upstream and keeps the text', () => {
    rx.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-|', { a: 'H', b: 'Hi', c: 'Hi!' });
      const stop = hot('----s', { s: undefined });
      expectObservable(source.pipe(withStreamStatus({ stop }))).toBe('ca-b(s|)', {
        c: state({ maxAttempts: 11 }),
        a: state({ status: 'streaming', snapshot: 'H', maxAttempts: 11 }),
        b: state({ status: 'streaming', snapshot: 'Hi', maxAttempts: 11 }),
        s: state({ status: 'stopped', snapshot: 'Hi', maxAttempts: 11 }),
      });
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('stops during a retry wait without another attempt', () => {
    rx.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = cold('-#', undefined, unavailable);
      const stop = new Subject<void>();
      const result = source.pipe(withStreamStatus({ retry: { initialDelay: 10, jitter: 'none' }, stop }));
      hot('---s').subscribe(() => stop.next());
      expectObservable(result).toBe('cr-(s|)', {
        c: state({ maxAttempts: 11 }),
        r: state({ status: 'retrying', maxAttempts: 11, retryInMs: 10, error: unavailable }),
        s: state({ status: 'stopped', maxAttempts: 11, error: unavailable }),
      });
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
  });

  it('does not retry with retry: false', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-#', undefined, unavailable);
      expectObservable(source.pipe(withStreamStatus({ retry: false, errorsAsState: true }))).toBe('c(f|)', {
        c: state({ maxAttempts: 1 }),
        f: state({ status: 'failed', maxAttempts: 1, error: unavailable }),
      });
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
  });

  it('still calls the caller’s own onRetry', () => {
    const delays: number[] = [];
    rx.run(({ cold, flush }) => {
      cold('-#', undefined, unavailable)
        .pipe(withStreamStatus({ retry: { initialDelay: 3, maxRetries: 2, jitter: 'none', onRetry: ({ delay }) => delays.push(delay) }, errorsAsState: true }))
        .subscribe();
      flush();
    });
    expect(delays).toEqual([3, 6]);
  });
});

describe('withStreamStatus bounds and options', () => {
  let rx: TestScheduler;
  beforeEach(() => {
    rx = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('keeps maxRetries with resetOnSuccess when attempts fail before any value', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-#', undefined, unavailable);
      const result = source.pipe(
        withStreamStatus({ retry: { initialDelay: 2, maxRetries: 2, jitter: 'none', resetOnSuccess: true }, errorsAsState: true }),
      );
      // Bounded by an unsubscription, so an endless retry fails the test instead of hanging it.
      expectObservable(result, '^ 200ms !').toBe('cr-kq---l(f|)', {
        c: state({}),
        r: state({ status: 'retrying', retryInMs: 2, error: unavailable }),
        k: state({ attempt: 2 }),
        q: state({ status: 'retrying', attempt: 2, retryInMs: 4, error: unavailable }),
        l: state({ attempt: 3 }),
        f: state({ status: 'failed', attempt: 3, error: unavailable }),
      });
      expectSubscriptions(source.subscriptions).toBe(['^!', '3ms ^!', '8ms ^!']);
    });
  });

  it('with resetOnSuccess, restarts the count after a value and never reads "attempt n of m" with n above m', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const withValue = cold('-a#', { a: 'x' }, unavailable);
      const failing = cold('-#', undefined, unavailable);
      const attempts = [withValue, withValue, failing, failing];
      let index = 0;
      const source = defer(() => attempts[index++]!);
      const result = source.pipe(withStreamStatus({ retry: { initialDelay: 1, maxRetries: 1, multiplier: 1, jitter: 'none', resetOnSuccess: true }, errorsAsState: true }));
      // Every value restarts the count: attempt 2 emits, so its failure earns one more retry, again "attempt 2 of 2".
      expectObservable(result, '^ 100ms !').toBe('carkbsl(f|)', {
        c: state({ maxAttempts: 2 }),
        a: state({ status: 'streaming', snapshot: 'x', maxAttempts: 2 }),
        r: state({ status: 'retrying', snapshot: 'x', maxAttempts: 2, retryInMs: 1, error: unavailable }),
        k: state({ snapshot: 'x', attempt: 2, maxAttempts: 2 }),
        b: state({ status: 'streaming', snapshot: 'x', attempt: 2, maxAttempts: 2 }),
        s: state({ status: 'retrying', snapshot: 'x', attempt: 2, maxAttempts: 2, retryInMs: 1, error: unavailable }),
        l: state({ snapshot: 'x', attempt: 2, maxAttempts: 2 }),
        f: state({ status: 'failed', snapshot: 'x', attempt: 2, maxAttempts: 2, error: unavailable }),
      });
      expectSubscriptions(withValue.subscriptions).toBe(['^-!', '3ms ^-!']);
      expectSubscriptions(failing.subscriptions).toBe(['6ms ^!']);
    });
  });

  it('shows resuming for the first value of an attempt that continues the response', () => {
    rx.run(({ cold, expectObservable }) => {
      const hel = { text: 'Hel' };
      const resumedLo = markStreamStart({ text: 'Hello' }, { resumed: true, stream: hel });
      const more = { text: 'Hello!' };
      const freshHel = markStreamStart({ text: 'Hel' }, { resumed: false });
      const first = cold('-a-#', { a: markStreamStart(hel, { resumed: false }) }, unavailable);
      const second = cold('-b-c-|', { b: resumedLo, c: more });
      const third = cold('-d-|', { d: freshHel });
      const runs = [first, second];
      let index = 0;
      const source = defer(() => runs[index++]!);
      type Snapshot = { text: string };
      const at = (change: Partial<StreamState<Snapshot>>): StreamState<Snapshot> => ({ ...(state({}) as unknown as StreamState<Snapshot>), ...change });
      expectObservable(source.pipe(withStreamStatus<Snapshot>({ retry: { initialDelay: 5, maxRetries: 2, jitter: 'none' } }))).toBe('ca-r 4ms kb-m-(e|)', {
        c: at({}),
        a: at({ status: 'streaming', snapshot: hel }),
        r: at({ status: 'retrying', snapshot: hel, retryInMs: 5, error: unavailable }),
        k: at({ snapshot: hel, attempt: 2 }),
        b: at({ status: 'resuming', snapshot: resumedLo, attempt: 2 }),
        m: at({ status: 'streaming', snapshot: more, attempt: 2 }),
        e: at({ status: 'done', snapshot: more, attempt: 2 }),
      });
      // A fresh start after a retry is plain streaming.
      expectObservable(third.pipe(withStreamStatus<Snapshot>())).toBe('cd-(e|)', {
        c: at({ maxAttempts: 11 }),
        d: at({ status: 'streaming', snapshot: freshHel, maxAttempts: 11 }),
        e: at({ status: 'done', snapshot: freshHel, maxAttempts: 11 }),
      });
    });
  });

  describe('rejects bad options when created, before any subscription', () => {
    const bad: Array<[string, unknown, typeof TypeError | typeof RangeError]> = [
      ['options not an object', 'fast', TypeError],
      ['retry not an object', { retry: 3 }, TypeError],
      ['retry true', { retry: true }, TypeError],
      ['negative maxRetries', { retry: { maxRetries: -1 } }, RangeError],
      ['fractional maxRetries', { retry: { maxRetries: 1.5 } }, RangeError],
      ['negative initialDelay', { retry: { initialDelay: -5 } }, RangeError],
      ['onRetry not a function', { retry: { onRetry: 'log' } }, TypeError],
      ['errorsAsState not a boolean', { errorsAsState: 'yes' }, TypeError],
      ['stop not an Observable', { stop: {} }, TypeError],
      ['stop a promise', { stop: Promise.resolve() }, TypeError],
    ];
    it.each(bad)('%s', (_name, options, type) => {
      expect(() => withStreamStatus(options as never)).toThrow(type);
    });
  });
});
