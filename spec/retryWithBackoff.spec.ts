import { VirtualTimeScheduler, defer, take, throwError, type SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { MAX_TIMER_DELAY } from '../src/timing/longTimer.js';
import { retryWithBackoff, type RetryEvent, type RetryWithBackoffOptions } from '../src/operators/retryWithBackoff.js';
import { HttpError, ParseError } from '../src/errors.js';

const unavailable = new HttpError(503, 'HTTP 503 Service Unavailable');
const limited = (retryAfterMs: number) => new HttpError(429, 'HTTP 429 Too Many Requests', retryAfterMs);

describe('retryWithBackoff', () => {
  let rx: TestScheduler;
  beforeEach(() => {
    rx = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('waits 10, 20, 40 ms between attempts, then rethrows', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--#', undefined, unavailable);
      const result = source.pipe(retryWithBackoff({ initialDelay: 10, multiplier: 2, maxRetries: 3, jitter: 'none' }));
      expectObservable(result).toBe('78ms #', undefined, unavailable);
      expectSubscriptions(source.subscriptions).toBe([
        '^-!',
        '12ms ^-!',
        '34ms ^-!',
        '76ms ^-!',
      ]);
    });
  });

  it('caps the computed delay at maxDelay', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--#', undefined, unavailable);
      const result = source.pipe(retryWithBackoff({ initialDelay: 10, multiplier: 3, maxDelay: 25, maxRetries: 3, jitter: 'none' }));
      // delays 10, min(25, 30), min(25, 90)
      expectObservable(result).toBe('68ms #', undefined, unavailable);
      expectSubscriptions(source.subscriptions).toBe([
        '^-!',
        '12ms ^-!',
        '39ms ^-!',
        '66ms ^-!',
      ]);
    });
  });

  it('passes values through and completes once an attempt succeeds', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const failing = cold('-a-#', { a: 'a' }, unavailable);
      const working = cold('-b-|', { b: 'b' });
      let attempts = 0;
      const source = defer(() => (attempts++ === 0 ? failing : working));
      expectObservable(source.pipe(retryWithBackoff({ initialDelay: 5, jitter: 'none' }))).toBe('-a-------b-|', {
        a: 'a',
        b: 'b',
      });
      expectSubscriptions(failing.subscriptions).toBe('^--!');
      expectSubscriptions(working.subscriptions).toBe('8ms ^--!');
    });
  });

  describe('jitter', () => {
    const cases: Array<[string, RetryWithBackoffOptions, string[], string]> = [
      // full: uniform in [0, d]; random 0.5 gives d/2: 5, then 10
      ['full', { jitter: 'full', random: () => 0.5 }, ['^-!', '7ms ^-!', '19ms ^-!'], '21ms #'],
      // equal: d/2 + uniform [0, d/2]; random 0.5 gives 3d/4: 7.5 is avoided with initialDelay 8: 6, then 12
      ['equal', { jitter: 'equal', initialDelay: 8, random: () => 0.5 }, ['^-!', '8ms ^-!', '22ms ^-!'], '24ms #'],
      // decorrelated: uniform(initialDelay, 3 * previous): 10 + 0.5 * 20 = 20, then 10 + 0.5 * 50 = 35
      ['decorrelated', { jitter: 'decorrelated', random: () => 0.5 }, ['^-!', '22ms ^-!', '59ms ^-!'], '61ms #'],
      // a number f: uniform in [d(1-f), d(1+f)]; f 0.5, random 0 gives d/2: 5, then 10
      ['0.5 with random 0', { jitter: 0.5, random: () => 0 }, ['^-!', '7ms ^-!', '19ms ^-!'], '21ms #'],
      // f 0.5, random 0.75 gives d(0.5 + 0.75) = 1.25d: 12.5 is avoided with initialDelay 8: 10, then 20
      ['0.5 with random 0.75', { jitter: 0.5, initialDelay: 8, random: () => 0.75 }, ['^-!', '12ms ^-!', '34ms ^-!'], '36ms #'],
    ];
    it.each(cases)('%s', (_name, options, subscriptions, expected) => {
      rx.run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('--#', undefined, unavailable);
        expectObservable(source.pipe(retryWithBackoff({ initialDelay: 10, maxRetries: 2, ...options }))).toBe(
          expected,
          undefined,
          unavailable,
        );
        expectSubscriptions(source.subscriptions).toBe(subscriptions);
      });
    });

    it('defaults to full jitter drawn from the injected random', () => {
      const delays: number[] = [];
      rx.run(({ cold, flush }) => {
        cold('--#', undefined, unavailable)
          .pipe(retryWithBackoff({ initialDelay: 100, maxRetries: 3, random: () => 0.25, onRetry: ({ delay }) => delays.push(delay) }))
          .subscribe({ error: () => undefined });
        flush();
      });
      expect(delays).toEqual([25, 50, 100]);
    });

    it('starts decorrelated jitter afresh for every subscription', () => {
      const delays: number[] = [];
      rx.run(({ cold, flush }) => {
        const result = cold('--#', undefined, unavailable).pipe(
          retryWithBackoff({ initialDelay: 10, maxRetries: 2, jitter: 'decorrelated', random: () => 0.5, onRetry: ({ delay }) => delays.push(delay) }),
        );
        result.subscribe({ error: () => undefined });
        result.subscribe({ error: () => undefined });
        flush();
      });
      expect(delays).toEqual([20, 20, 35, 35]);
    });
  });

  describe('Retry-After', () => {
    it('waits at least retryAfterMs when it is longer than the computed delay', () => {
      rx.run(({ cold, expectObservable, expectSubscriptions }) => {
        const error = limited(50);
        const source = cold('--#', undefined, error);
        expectObservable(source.pipe(retryWithBackoff({ initialDelay: 10, maxRetries: 1, jitter: 'none' }))).toBe(
          '54ms #',
          undefined,
          error,
        );
        expectSubscriptions(source.subscriptions).toBe(['^-!', '52ms ^-!']);
      });
    });

    it('keeps the computed delay when it is longer than retryAfterMs', () => {
      rx.run(({ cold, expectObservable, expectSubscriptions }) => {
        const error = limited(3);
        const source = cold('--#', undefined, error);
        expectObservable(source.pipe(retryWithBackoff({ initialDelay: 10, maxRetries: 1, jitter: 'none' }))).toBe(
          '14ms #',
          undefined,
          error,
        );
        expectSubscriptions(source.subscriptions).toBe(['^-!', '12ms ^-!']);
      });
    });

    it('rethrows at once when retryAfterMs exceeds maxRetryAfter', () => {
      rx.run(({ cold, expectObservable, expectSubscriptions }) => {
        const error = limited(60_001);
        const source = cold('--#', undefined, error);
        expectObservable(source.pipe(retryWithBackoff({ jitter: 'none' }))).toBe('--#', undefined, error);
        expectSubscriptions(source.subscriptions).toBe('^-!');
      });
    });

    it('honours a raised maxRetryAfter', () => {
      rx.run(({ cold, expectObservable, expectSubscriptions }) => {
        const error = limited(90);
        const source = cold('--#', undefined, error);
        expectObservable(source.pipe(retryWithBackoff({ maxRetries: 1, maxRetryAfter: 100, initialDelay: 1, jitter: 'none' }))).toBe(
          '94ms #',
          undefined,
          error,
        );
        expectSubscriptions(source.subscriptions).toBe(['^-!', '92ms ^-!']);
      });
    });
  });

  describe('shouldRetry', () => {
    it('rethrows a non-retryable error at once by default', () => {
      rx.run(({ cold, expectObservable, expectSubscriptions }) => {
        const error = new ParseError('not JSON', 'x');
        const source = cold('--#', undefined, error);
        expectObservable(source.pipe(retryWithBackoff({ initialDelay: 1 }))).toBe('--#', undefined, error);
        expectSubscriptions(source.subscriptions).toBe('^-!');
      });
    });

    it('does not retry plain errors or a 401', () => {
      rx.run(({ cold, expectObservable }) => {
        const plain = new Error('boom');
        const unauthorized = new HttpError(401, 'HTTP 401');
        expectObservable(cold('-#', undefined, plain).pipe(retryWithBackoff())).toBe('-#', undefined, plain);
        expectObservable(cold('-#', undefined, unauthorized).pipe(retryWithBackoff())).toBe('-#', undefined, unauthorized);
      });
    });

    it('is asked with the error and the number of the retry about to be made', () => {
      const asked: Array<[unknown, number]> = [];
      rx.run(({ cold, expectObservable, expectSubscriptions }) => {
        const error = new Error('custom');
        const source = cold('--#', undefined, error);
        const result = source.pipe(
          retryWithBackoff({
            initialDelay: 10,
            jitter: 'none',
            shouldRetry: (e, attempt) => {
              asked.push([e, attempt]);
              return attempt < 3;
            },
          }),
        );
        expectObservable(result).toBe('36ms #', undefined, error);
        expectSubscriptions(source.subscriptions).toBe(['^-!', '12ms ^-!', '34ms ^-!']);
      });
      expect(asked.map(([, attempt]) => attempt)).toEqual([1, 2, 3]);
      expect(asked.every(([e]) => (e as Error).message === 'custom')).toBe(true);
    });
  });

  describe('resetOnSuccess', () => {
    it('restarts the count and the delay after a value when set', () => {
      rx.run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-a-#', { a: 'a' }, unavailable);
        const result = source.pipe(
          retryWithBackoff({ initialDelay: 10, maxRetries: 1, jitter: 'none', resetOnSuccess: true }),
          take(3),
        );
        expectObservable(result).toBe('-a- 10ms -a- 10ms -(a|)', { a: 'a' });
        expectSubscriptions(source.subscriptions).toBe(['^--!', '13ms ^--!', '26ms ^!']);
      });
    });

    it('keeps counting across values by default', () => {
      rx.run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-a-#', { a: 'a' }, unavailable);
        const result = source.pipe(retryWithBackoff({ initialDelay: 10, maxRetries: 1, jitter: 'none' }));
        expectObservable(result).toBe('-a- 10ms -a-#', { a: 'a' }, unavailable);
        expectSubscriptions(source.subscriptions).toBe(['^--!', '13ms ^--!']);
      });
    });
  });

  it('tells onRetry the attempt, the delay actually used and the error', () => {
    const events: RetryEvent[] = [];
    rx.run(({ cold, flush }) => {
      const errors = [unavailable, limited(70), unavailable];
      let attempts = 0;
      defer(() => cold('-#', undefined, errors[attempts++]))
        .pipe(retryWithBackoff({ initialDelay: 10, maxRetries: 3, jitter: 'none', onRetry: (event) => events.push(event) }))
        .subscribe({ error: () => undefined });
      flush();
    });
    expect(events).toEqual([
      { attempt: 1, delay: 10, error: unavailable },
      { attempt: 2, delay: 70, error: expect.objectContaining({ status: 429, retryAfterMs: 70 }) },
      { attempt: 3, delay: 40, error: unavailable },
    ]);
  });

  it('rethrows at once with maxRetries 0', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const once = cold('-#', undefined, unavailable);
      expectObservable(once.pipe(retryWithBackoff({ maxRetries: 0 }))).toBe('-#', undefined, unavailable);
      expectSubscriptions(once.subscriptions).toBe('^!');
    });
  });

  it('keeps retrying with maxRetries Infinity', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const forever = cold('-#', undefined, unavailable);
      const options = { maxRetries: Infinity, initialDelay: 1, multiplier: 1, jitter: 'none' } as const;
      expectObservable(forever.pipe(retryWithBackoff(options)), '^ 6ms !').toBe('');
      expectSubscriptions(forever.subscriptions).toBe(['^!', '--^!', '----^!', '------^!']);
    });
  });

  it('cancels the pending retry when unsubscribed during the wait', () => {
    rx.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--#', undefined, unavailable);
      expectObservable(source.pipe(retryWithBackoff({ initialDelay: 10, jitter: 'none' })), '^ 6ms !').toBe('');
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  describe('scheduler', () => {
    it('waits on the injected scheduler', () => {
      const scheduler = new VirtualTimeScheduler();
      let subscriptions = 0;
      const source = defer(() => {
        subscriptions++;
        return throwError(() => unavailable);
      });
      let failed: unknown;
      source.pipe(retryWithBackoff({ initialDelay: 1000, maxRetries: 2, jitter: 'none', scheduler })).subscribe({ error: (error) => (failed = error) });
      expect(subscriptions).toBe(1);
      scheduler.flush(); // runs every scheduled wait at once, in virtual time
      expect(subscriptions).toBe(3);
      expect(scheduler.now()).toBe(3000);
      expect(failed).toBe(unavailable);
    });

    it('drives the marble timing when given the TestScheduler', () => {
      rx.run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('--#', undefined, unavailable);
        const result = source.pipe(retryWithBackoff({ initialDelay: 10, maxRetries: 2, jitter: 'none', scheduler: rx }));
        expectObservable(result).toBe('36ms #', undefined, unavailable);
        expectSubscriptions(source.subscriptions).toBe(['^-!', '12ms ^-!', '34ms ^-!']);
      });
    });
  });

  describe('delays beyond 2^31-1 ms', () => {
    const DAYS_34 = 34 * 24 * 3_600_000;

    it('resubscribes exactly after a 34-day Retry-After, and no timer is longer than a platform timer holds', () => {
      rx.run(({ cold, expectObservable, expectSubscriptions }) => {
        const delays: number[] = [];
        const recording: SchedulerLike = {
          now: () => rx.now(),
          schedule: (work: never, delay?: number, state?: unknown) => {
            delays.push(delay ?? 0);
            return rx.schedule(work, delay, state);
          },
        };
        const failing = cold('-#', undefined, limited(DAYS_34));
        const working = cold('-a|', { a: 'a' });
        let attempts = 0;
        const source = defer(() => (attempts++ === 0 ? failing : working));
        const result = source.pipe(retryWithBackoff({ initialDelay: 1, jitter: 'none', maxRetryAfter: Infinity, scheduler: recording }));
        expectObservable(result).toBe(`- ${DAYS_34}ms -a|`, { a: 'a' });
        expectSubscriptions(failing.subscriptions).toBe('^!');
        expectSubscriptions(working.subscriptions).toBe(`- ${DAYS_34}ms ^-!`);
        rx.flush();
        expect(delays.length).toBeGreaterThan(1);
        expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_TIMER_DELAY);
        expect(delays.reduce((sum, delay) => sum + delay, 0)).toBe(DAYS_34);
      });
    });

    it('waits forever for an infinite delay instead of firing at once', () => {
      rx.run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-#', undefined, limited(Infinity));
        const result = source.pipe(retryWithBackoff({ jitter: 'none', maxRetryAfter: Infinity, scheduler: rx }));
        expectObservable(result, `${10 * DAYS_34}ms !`).toBe('');
        expectSubscriptions(source.subscriptions).toBe('^!');
      });
    });

    it('with real timers: no TimeoutOverflowWarning and no second request soon after a 34-day Retry-After', async () => {
      const warnings: string[] = [];
      const onWarning = (warning: Error) => warnings.push(warning.name);
      process.on('warning', onWarning);
      let requests = 0;
      const source = defer(() => {
        requests++;
        return throwError(() => limited(DAYS_34));
      });
      const subscription = source.pipe(retryWithBackoff({ maxRetries: 50, maxRetryAfter: Infinity })).subscribe({ error: () => undefined });
      try {
        // A bounded window: the old overflow fired every millisecond, 50 requests within it.
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(requests).toBe(1);
        expect(warnings).toEqual([]);
      } finally {
        subscription.unsubscribe();
        process.off('warning', onWarning);
      }
    });
  });

  describe('rejects bad options when created', () => {
    const bad: Array<[string, RetryWithBackoffOptions, typeof TypeError | typeof RangeError]> = [
      ['negative initialDelay', { initialDelay: -1 }, RangeError],
      ['NaN initialDelay', { initialDelay: NaN }, TypeError],
      ['Infinity initialDelay', { initialDelay: Infinity }, RangeError],
      ['multiplier below 1', { multiplier: 0.5 }, RangeError],
      ['NaN multiplier', { multiplier: NaN }, RangeError],
      ['Infinity multiplier', { multiplier: Infinity }, RangeError],
      ['negative maxDelay', { maxDelay: -5 }, RangeError],
      ['negative maxRetries', { maxRetries: -1 }, RangeError],
      ['NaN maxRetries', { maxRetries: NaN }, TypeError],
      ['fractional maxRetries', { maxRetries: 1.5 }, RangeError],
      ['unknown jitter', { jitter: 'wild' as never }, RangeError],
      ['jitter above 1', { jitter: 1.5 }, RangeError],
      ['negative maxRetryAfter', { maxRetryAfter: -1 }, RangeError],
      ['shouldRetry not a function', { shouldRetry: true as never }, TypeError],
      ['random not a function', { random: 0.5 as never }, TypeError],
      ['scheduler not a scheduler', { scheduler: {} as never }, TypeError],
      ['scheduler null', { scheduler: null as never }, TypeError],
    ];
    it.each(bad)('%s', (_name, options, type) => {
      expect(() => retryWithBackoff(options)).toThrow(type);
    });

    it('accepts Infinity where the contract allows it', () => {
      expect(() => retryWithBackoff({ maxRetries: Infinity, maxDelay: Infinity, maxRetryAfter: Infinity })).not.toThrow();
    });
  });
});
