/** The longest delay `setTimeout` accepts; longer ones fire at once. */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

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
 */
export function startIdleTimer(timeoutMs: number, onIdle: () => void): IdleTimer {
  if (!(timeoutMs > 0 && timeoutMs < Infinity)) return { touch() {}, stop() {} };
  let lastActivity = performance.now();
  const check = () => {
    const remaining = timeoutMs - (performance.now() - lastActivity);
    if (remaining <= 0) onIdle();
    else timer = setTimeout(check, Math.min(remaining, MAX_TIMER_DELAY));
  };
  let timer = setTimeout(check, Math.min(timeoutMs, MAX_TIMER_DELAY));
  return {
    touch: () => {
      lastActivity = performance.now();
    },
    stop: () => clearTimeout(timer),
  };
}
