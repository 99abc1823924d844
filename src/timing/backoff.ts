// src/timing/: backoff, Retry-After (parsing and the note), long timers, the idle timer. May import
// internal/ and the root modules; never sources/, operators/ or server/ (npm run lint:layout).

/** How a retry delay is randomised; a number f means uniform in [d(1-f), d(1+f)]. */
export type Jitter = 'none' | 'full' | 'equal' | 'decorrelated' | number;

export interface BackoffSettings {
  initialDelay: number;
  multiplier: number;
  maxDelay: number;
  jitter: Jitter;
}

/** The delay before retry `k` (0, 1, ...) before jitter: `min(maxDelay, initialDelay * multiplier ** k)`. */
export function baseDelay(k: number, { initialDelay, multiplier, maxDelay }: BackoffSettings): number {
  return Math.min(maxDelay, initialDelay * multiplier ** k);
}

/**
 * The delay before retry `k` with jitter applied. `random` returns [0, 1).
 * `previous` is the delay used before the last retry: the state that
 * decorrelated jitter (`min(maxDelay, uniform(initialDelay, 3 * previous))`)
 * grows from; the other kinds ignore it.
 */
export function backoffDelay(k: number, settings: BackoffSettings, random: () => number, previous?: number): number {
  const { jitter, initialDelay, maxDelay } = settings;
  if (jitter === 'decorrelated') {
    const upper = Math.max(initialDelay, 3 * (previous ?? initialDelay));
    return Math.min(maxDelay, initialDelay + random() * (upper - initialDelay));
  }
  const d = baseDelay(k, settings);
  switch (jitter) {
    case 'none':
      return d;
    case 'full':
      return random() * d;
    case 'equal':
      return d / 2 + (random() * d) / 2;
    default:
      return d * (1 - jitter) + random() * 2 * jitter * d;
  }
}
