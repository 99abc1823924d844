import { from } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { untilDone } from '../src/operators/untilDone.js';
import { StreamInterruptedError } from '../src/errors.js';
import { DONE } from '../src/types.js';

describe('untilDone', () => {
  let rx: TestScheduler;
  beforeEach(() => {
    rx = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('passes values through and completes at DONE, unsubscribing upstream', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--a--b--D--c--|', { a: 1, b: 2, c: 3, D: DONE });
      expectObservable(source.pipe(untilDone())).toBe('--a--b--|', { a: 1, b: 2 });
      expectSubscriptions(source.subscriptions).toBe('^-------!');
    });
  });

  it('errors with a retryable StreamInterruptedError when the source ends before DONE', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--a--b--|', { a: 1, b: 2 });
      expectObservable(source.pipe(untilDone())).toBe('--a--b--#', { a: 1, b: 2 }, new StreamInterruptedError());
      expectSubscriptions(source.subscriptions).toBe('^-------!');
    });
  });

  it('gives an error that says the answer is incomplete and is retryable', () => {
    const errors: unknown[] = [];
    rx.run(({ cold, flush }) => {
      cold('-|').pipe(untilDone()).subscribe({ error: (error) => errors.push(error) });
      flush();
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(StreamInterruptedError);
    expect(errors[0]).toMatchObject({ name: 'StreamInterruptedError', retryable: true });
  });

  it('lets errors through unchanged', () => {
    rx.run(({ cold, expectObservable }) => {
      const failure = new Error('boom');
      expectObservable(cold('--a--#', { a: 1 }, failure).pipe(untilDone())).toBe('--a--#', { a: 1 }, failure);
    });
  });

  it('completes at once when DONE is the first value', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('D--a--|', { a: 1, D: DONE });
      expectObservable(source.pipe(untilDone())).toBe('|');
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('does not complete while the source stays open without DONE', () => {
    rx.run(({ cold, expectObservable }) => {
      expectObservable(cold('--a---', { a: 1 }).pipe(untilDone())).toBe('--a---', { a: 1 });
    });
  });

  it('stops a synchronous source at DONE: nothing after it is read', () => {
    const read: unknown[] = [];
    function* recorded() {
      for (const value of [1, 2, DONE, 3, 4]) {
        read.push(value);
        yield value;
      }
    }
    const seen: unknown[] = [];
    let completed = false;
    from(recorded())
      .pipe(untilDone())
      .subscribe({ next: (value) => seen.push(value), complete: () => (completed = true) });
    expect(seen).toEqual([1, 2]);
    expect(completed).toBe(true);
    expect(read).toEqual([1, 2, DONE]);
  });
});
