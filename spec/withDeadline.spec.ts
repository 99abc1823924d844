import { defer, takeUntil, timeout, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { DeadlineExceededError, NetworkError, isRetryable } from '../src/errors.js';
import { retryWithBackoff } from '../src/operators/retryWithBackoff.js';
import { withDeadline } from '../src/operators/withDeadline.js';

const deadline = (ms: number) => new DeadlineExceededError(ms);

describe('withDeadline', () => {
  let rx: TestScheduler;
  beforeEach(() => {
    rx = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('passes an answer that completes in time through untouched', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--a--b--c--|');
      expectObservable(source.pipe(withDeadline(20))).toBe('--a--b--c--|');
      expectSubscriptions(source.subscriptions).toBe('^----------!');
    });
  });

  it('errors with DeadlineExceededError when the answer has not completed in time, and unsubscribes (aborts) the source', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--a--b--c--d--e--|');
      expectObservable(source.pipe(withDeadline(7))).toBe('--a--b-#', { a: 'a', b: 'b' }, deadline(7));
      expectSubscriptions(source.subscriptions).toBe('^------!');
    });
  });

  it('counts from each subscription, not from creation', () => {
    rx.run(({ cold, expectObservable }) => {
      const source = cold('----|');
      const bounded = source.pipe(withDeadline(5));
      expectObservable(bounded).toBe('----|');
      expectObservable(bounded, '10ms ^').toBe('10ms ----|');
    });
  });

  it('lets an earlier error through as it is', () => {
    rx.run(({ cold, expectObservable }) => {
      const failure = new NetworkError('fromChatCompletion: reset');
      expectObservable(cold('--a-#', undefined, failure).pipe(withDeadline(10))).toBe('--a-#', undefined, failure);
    });
  });

  it('after retryWithBackoff bounds the whole answer, retries and waits included', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const failure = new NetworkError('fromChatCompletion: reset');
      const source = cold('--a--#', { a: 'a' }, failure);
      const result = source.pipe(retryWithBackoff({ initialDelay: 10, maxRetries: 5, jitter: 'none' }), withDeadline(30));
      // attempt 1 at 0..5, wait 10, attempt 2 at 15..20, wait 20 → cut at 30 during the wait
      expectObservable(result).toBe('--a--------------a------------#', { a: 'a' }, deadline(30));
      expectSubscriptions(source.subscriptions).toBe(['^----!', '15ms ^----!']);
    });
  });

  it('after retryWithBackoff aborts an attempt that is still streaming at the deadline', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const failure = new NetworkError('fromChatCompletion: reset');
      const first = cold('--a--#', { a: 'A' }, failure);
      const second = cold('--b--c--d--|');
      let attempts = 0;
      const source = defer(() => (attempts++ === 0 ? first : second));
      const result = source.pipe(retryWithBackoff({ initialDelay: 10, maxRetries: 5, jitter: 'none' }), withDeadline(24));
      // attempt 1 at 0..5, wait 10, attempt 2 from 15: still streaming at 24
      expectObservable(result).toBe('--A--------------b--c--d#', { A: 'A', b: 'b', c: 'c', d: 'd' }, deadline(24));
      expectSubscriptions(first.subscriptions).toBe('^----!');
      expectSubscriptions(second.subscriptions).toBe('15ms ^--------!');
    });
  });

  it('is what timeout({ first }) and takeUntil(timer()) are not: an error when the whole answer is late', () => {
    rx.run(({ cold, expectObservable }) => {
      const slowAnswer = cold('-a--------b--------|');
      // timeout({ first }) only bounds the first value: the late answer finishes.
      expectObservable(slowAnswer.pipe(timeout({ first: 5 }))).toBe('-a--------b--------|');
      // takeUntil(timer()) completes: a truncated answer looks like a whole one.
      expectObservable(slowAnswer.pipe(takeUntil(timer(5)))).toBe('-a---|');
      expectObservable(slowAnswer.pipe(withDeadline(5))).toBe('-a---#', undefined, deadline(5));
    });
  });

  it('raises a typed, non-retryable error whose message names who set the deadline', () => {
    const error = deadline(1500);
    expect(error.name).toBe('DeadlineExceededError');
    expect(error.timeoutMs).toBe(1500);
    expect(isRetryable(error)).toBe(false);
    expect(error.message).toMatch(/^withDeadline: the answer did not complete within 1500 ms/);
    expect(new DeadlineExceededError(20, '--timeout').message).toMatch(/^--timeout: /);
  });

  it('with Infinity, adds no deadline at all', () => {
    rx.run(({ cold, expectObservable }) => {
      expectObservable(cold('--a' + '-'.repeat(100) + '|').pipe(withDeadline(Infinity))).toBe('--a' + '-'.repeat(100) + '|');
    });
  });

  it.each([0, -1, NaN, 2 ** 31])('refuses ms = %p with a RangeError when created', (ms) => {
    expect(() => withDeadline(ms)).toThrow(RangeError);
    expect(() => withDeadline(ms)).toThrow(/^withDeadline: ms must be above 0/);
  });

  it('refuses a non-number with a TypeError when created', () => {
    expect(() => withDeadline('500' as never)).toThrow(TypeError);
  });
});
