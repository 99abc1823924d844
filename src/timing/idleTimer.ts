import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';

/** The longest delay a platform timer holds; a longer one would fire at once. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** A timer this late means the process, not the network, was busy. */
const LATE_MS = 10;

/** The most an idle timeout can be stretched by a late timer: one grace of half a timeout. */
export const GRACE_FACTOR = 1.5;

export interface IdleTimer {
  /** Call on every byte (or chunk of bytes) received: one clock read, no timer work. */
  touch(): void;
  stop(): void;
}

const NO_TIMER: IdleTimer = { touch() {}, stop() {} };

/**
 * Calls `onIdle` once when `touch` has not been called for `timeoutMs`, on
 * `scheduler`'s clock and timers. A `timeoutMs` of `0` or `Infinity` never
 * fires.
 *
 * One pending timer at a time: `touch` only records `scheduler.now()`, and
 * the timer, when it finds a byte arrived meanwhile, re-arms itself for the
 * rest of the interval. That keeps a byte's cost to a clock read however
 * small the network reads are. Delays are cut to 2³¹−1 ms per timer (and the
 * rest waited again), so a long timeout never fires early.
 *
 * A timer that fires late (more than 10 ms) means this process was busy
 * (a subscriber blocking, a background tab throttling timers): bytes may be
 * waiting unread, so the silence may not be the network's. It then gets ONE
 * grace per silence, ending 1.5 × `timeoutMs` after the last byte: its
 * timer is shortened by the lateness just seen, so that a next timer as late
 * still lands on the deadline, and when no such timer fits (a lateness of
 * half the timeout or more) there is no grace and `onIdle` is called at once.
 * A timer firing after that deadline calls `onIdle` at once.
 *
 * ```text
 * timeout 200, timers on time:   bytes --a-----------------|           onIdle at a+200
 * timeout 200, timers 30 ms late: bytes --a-----------------------|    onIdle at a+300 (not later)
 * ```
 */
export function startIdleTimer(timeoutMs: number, onIdle: () => void, scheduler: SchedulerLike = asyncScheduler): IdleTimer {
  if (!(timeoutMs > 0 && timeoutMs < Infinity)) return NO_TIMER;
  const deadline = timeoutMs * GRACE_FACTOR;
  let lastActivity = scheduler.now();
  /** The `lastActivity` whose silence has had its grace. */
  let gracedSilence = Number.NaN;
  let due = 0;
  let pending: Subscription | undefined;
  let stopped = false;
  const arm = (delay: number) => {
    const wait = Math.min(Math.max(0, delay), MAX_TIMER_DELAY);
    due = scheduler.now() + wait;
    pending = scheduler.schedule(check, wait);
  };
  const check = () => {
    if (stopped) return;
    const now = scheduler.now();
    const silence = now - lastActivity;
    if (silence < timeoutMs) return arm(timeoutMs - silence);
    const late = now - due;
    // Room for a grace whose timer, as late as this one, still lands on the deadline.
    const room = deadline - silence - late;
    if (late > LATE_MS && gracedSilence !== lastActivity && room >= 0) {
      gracedSilence = lastActivity;
      return arm(room);
    }
    stopped = true;
    onIdle();
  };
  arm(timeoutMs);
  return {
    touch: () => {
      lastActivity = scheduler.now();
    },
    stop: () => {
      stopped = true;
      pending?.unsubscribe();
    },
  };
}
