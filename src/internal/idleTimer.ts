/** The longest delay `setTimeout` accepts; longer ones fire at once. */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** A timer this late means the process, not the network, was busy. */
const LATE_MS = 10;

export interface IdleTimer {
  /** Call on every byte (or chunk of bytes) received. */
  touch(): void;
  stop(): void;
}

/**
 * Calls `onIdle` once when `touch` has not been called for `timeoutMs`.
 * One pending timer at a time: `touch` only records the time, and the timer,
 * when it fires early, re-arms itself for the rest of the interval. That keeps
 * a byte's cost to a clock read however small the network reads are.
 * A `timeoutMs` of `0` or `Infinity` never fires.
 *
 * When the timer fires late, this process was busy (a subscriber blocking,
 * a first `fetch` loading): bytes may be waiting unread, so the silence is not
 * the network's. It then gives the network half a timeout more before judging.
 */
export function startIdleTimer(timeoutMs: number, onIdle: () => void): IdleTimer {
  if (!(timeoutMs > 0 && timeoutMs < Infinity)) return { touch() {}, stop() {} };
  let lastActivity = performance.now();
  let due = lastActivity + timeoutMs;
  const arm = (delay: number) => {
    due = performance.now() + delay;
    return setTimeout(check, Math.min(delay, MAX_TIMER_DELAY));
  };
  const check = () => {
    const now = performance.now();
    if (now - due > LATE_MS) lastActivity = Math.max(lastActivity, now - timeoutMs / 2);
    const remaining = timeoutMs - (now - lastActivity);
    if (remaining <= 0) onIdle();
    else timer = arm(remaining);
  };
  let timer = arm(timeoutMs);
  return {
    touch: () => {
      lastActivity = performance.now();
    },
    stop: () => clearTimeout(timer),
  };
}
