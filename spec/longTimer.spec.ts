import type { SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { MAX_TIMER_DELAY, longTimer } from '../src/timing/longTimer.js';

describe('longTimer', () => {
  let rx: TestScheduler;
  beforeEach(() => {
    rx = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  /** The TestScheduler, recording the delay of every timer scheduled on it. */
  const recording = (delays: number[]): SchedulerLike => ({
    now: () => rx.now(),
    schedule: (work: never, delay?: number, state?: unknown) => {
      delays.push(delay ?? 0);
      return rx.schedule(work, delay, state);
    },
  });

  it.each([
    [0, [0]],
    [1500, [1500]],
    [MAX_TIMER_DELAY, [MAX_TIMER_DELAY]],
    [MAX_TIMER_DELAY + 1, [MAX_TIMER_DELAY, 1]],
    [3 * MAX_TIMER_DELAY + 7, [MAX_TIMER_DELAY, MAX_TIMER_DELAY, MAX_TIMER_DELAY, 7]],
  ])('emits once after exactly %i ms, in timers of %j ms', (delay, timers) => {
    rx.run(({ expectObservable }) => {
      const delays: number[] = [];
      expectObservable(longTimer(delay, recording(delays))).toBe(`${delay}ms (0|)`, { 0: 0 });
      rx.flush();
      expect(delays).toEqual(timers);
    });
  });

  it('never emits for Infinity', () => {
    rx.run(({ expectObservable }) => {
      expectObservable(longTimer(Infinity, rx), `${4 * MAX_TIMER_DELAY}ms !`).toBe('');
    });
  });
});
