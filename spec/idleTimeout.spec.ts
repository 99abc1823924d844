import { NEVER, concat, of, type SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { idleTimeout } from '../src/transport/idleTimeout';
import { MAX_TIMER_DELAY } from '../src/timing/idleTimer';

const IDLE = new Error('idle');
const error = () => IDLE;

function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

/** `inner`, with every timer firing `lateMs` late (a busy process, a throttled background tab). */
function lateBy(inner: SchedulerLike, lateMs: number): SchedulerLike {
  return {
    now: () => inner.now(),
    schedule: (work: never, delay = 0, state?: unknown) => inner.schedule(work, delay + lateMs, state),
  } as SchedulerLike;
}

/** `inner`, recording the delay of every timer asked for. */
function recording(inner: SchedulerLike, delays: number[]): SchedulerLike {
  return {
    now: () => inner.now(),
    schedule: (work: never, delay = 0, state?: unknown) => {
      delays.push(delay);
      return inner.schedule(work, delay, state);
    },
  } as SchedulerLike;
}

describe('idleTimeout (virtual time)', () => {
  it('errors a timeout after the last value, and not before', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b 500ms c|');
      expectObservable(source.pipe(idleTimeout(5, { error }))).toBe('-a-b----#', { a: 'a', b: 'b' }, IDLE);
      expectSubscriptions(source.subscriptions).toBe('^-------!');
    });
  });

  it('every value restarts the count: values closer than the timeout never time out', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a 150ms b 150ms c 150ms d|');
      expectObservable(source.pipe(idleTimeout(200, { error }))).toBe('a 150ms b 150ms c 150ms d|');
      expectSubscriptions(source.subscriptions).toBe('^ 453ms !');
    });
  });

  it('counts from the subscription when nothing ever comes', () => {
    testScheduler().run(({ expectObservable }) => {
      expectObservable(NEVER.pipe(idleTimeout(200, { error }))).toBe('200ms #', undefined, IDLE);
    });
  });

  it('timers on time earn no grace: 200 ms of silence is the error', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a').pipe(idleTimeout(200, { error }))).toBe('a 199ms #', undefined, IDLE);
    });
  });

  it('with every timer 30 ms late, a 200 ms timeout still fires 300 ms after the last value (one grace, no more)', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const late = lateBy(scheduler, 30);
      const source = cold('a');
      expectObservable(source.pipe(idleTimeout(200, { error, scheduler: late }))).toBe('a 299ms #', undefined, IDLE);
      expectSubscriptions(source.subscriptions).toBe('^ 299ms !');
    });
  });

  it.each([
    [1000, 300],
    [1000, 200],
    [1000, 499],
    [200, 90],
  ])('with a %i ms timeout and every timer %i ms late, the error still comes within 1.5 × the timeout', (timeoutMs, lateMs) => {
    const scheduler = testScheduler();
    let failedAt = Number.NaN;
    scheduler.run(({ cold, flush }) => {
      cold('a').pipe(idleTimeout(timeoutMs, { error, scheduler: lateBy(scheduler, lateMs) })).subscribe({ error: () => (failedAt = scheduler.now()) });
      flush();
    });
    expect(failedAt).toBeGreaterThanOrEqual(timeoutMs);
    expect(failedAt).toBeLessThanOrEqual(timeoutMs * 1.5);
  });

  it('one grace per silence: a value starts a new silence that may earn its own grace', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const late = lateBy(scheduler, 30);
      expectObservable(cold('a 250ms b').pipe(idleTimeout(200, { error, scheduler: late }))).toBe('a 250ms b 299ms #', undefined, IDLE);
    });
  });

  it('a timer firing after 1.5 × the timeout errors at once (a background tab throttling timers to 1 s)', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const late = lateBy(scheduler, 1000);
      expectObservable(cold('a').pipe(idleTimeout(200, { error, scheduler: late }))).toBe('a 1199ms #', undefined, IDLE);
    });
  });

  it('a value costs no timer work: 1,000 values inside the timeout arm one timer', () => {
    const scheduler = testScheduler();
    const delays: number[] = [];
    scheduler.run(({ expectObservable }) => {
      const burst = of(...Array.from({ length: 1000 }, (_, i) => i));
      const result = concat(burst, NEVER).pipe(idleTimeout(200, { error, scheduler: recording(scheduler, delays) }));
      expectObservable(result, '^ 100ms !').toBe(`(${'v'.repeat(1000)})`, { v: expect.any(Number) });
    });
    expect(delays).toEqual([200]);
  });

  it('delays past 2³¹−1 ms are cut per timer, so a 2³¹ + 1000 ms timeout fires neither early nor late', () => {
    const timeout = 2 ** 31 + 1000;
    const scheduler = testScheduler();
    const delays: number[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      const result = cold('a').pipe(idleTimeout(timeout, { error, scheduler: recording(scheduler, delays) }));
      expectObservable(result).toBe(`a ${timeout - 1}ms #`, undefined, IDLE);
    });
    expect(delays).toEqual([MAX_TIMER_DELAY, timeout - MAX_TIMER_DELAY]);
  });

  it.each([0, Infinity])('a timeout of %p is off', (timeout) => {
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a 100000ms b|').pipe(idleTimeout(timeout, { error }))).toBe('a 100000ms b|');
    });
  });

  it('unsubscribing cancels the timer: nothing fires afterwards', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable, flush }) => {
      expectObservable(NEVER.pipe(idleTimeout(200, { error })), '^ 100ms !').toBe('');
      flush();
      expect(scheduler.actions).toHaveLength(0);
    });
  });
});
