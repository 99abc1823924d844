import { backoffDelay, type BackoffSettings } from '../src/timing/backoff.js';
import type { Jitter } from '../src/index.js';
import { mulberry32 } from '../spec/support/mulberry32.js';

export interface StormResult {
  jitter: string;
  /** The most reconnect attempts in any 100 ms window, over the mean per 100 ms until 99% recovered. */
  peakToMean: number;
  peakPerWindow: number;
  /** Milliseconds until 99% of the clients are connected again. */
  t99: number;
  attempts: number;
}

/**
 * A reconnect storm: `clients` lose their connection at t = 0 and each
 * retries with the library's own delay function (the defaults of
 * `retryWithBackoff`: initialDelay 1000 ms, multiplier 2, maxDelay 30 s).
 * The server accepts at most `capacity` connections per 100 ms window; an
 * attempt beyond that fails and the client backs off again. Time is
 * simulated in 1 ms steps.
 */
export function simulateStorm(jitter: Jitter, clients = 10_000, capacity = 400, seed = 1): StormResult {
  const settings: BackoffSettings = { initialDelay: 1000, multiplier: 2, maxDelay: 30_000, jitter };
  const random = mulberry32(seed);
  // Attempts bucketed by millisecond; every client's first retry comes after its first delay (k = 0).
  const buckets: Array<Array<{ k: number; previous: number }>> = [];
  const schedule = (at: number, k: number, previous: number) => (buckets[Math.floor(at)] ??= []).push({ k, previous });
  for (let i = 0; i < clients; i++) {
    const delay = backoffDelay(0, settings, random);
    schedule(delay, 0, delay);
  }
  const windows = new Map<number, number>();
  let recovered = 0;
  let t99 = Infinity;
  let attempts = 0;
  for (let t = 0; t < buckets.length && recovered < clients; t++) {
    const bucket = buckets[t];
    if (!bucket) continue;
    for (let i = 0; i < bucket.length; i++) {
      const { k: tried, previous } = bucket[i]!;
      attempts++;
      const window = Math.floor(t / 100);
      const used = windows.get(window) ?? 0;
      windows.set(window, used + 1);
      if (used < capacity) {
        recovered++;
        if (recovered >= clients * 0.99 && t99 === Infinity) t99 = t;
        continue;
      }
      const k = tried + 1;
      const delay = Math.max(1, backoffDelay(k, settings, random, previous));
      schedule(t + delay, k, delay);
    }
    buckets[t] = [];
  }
  const lastWindow = Math.floor(t99 / 100);
  let inPeriod = 0;
  let peak = 0;
  for (const [window, count] of windows) {
    peak = Math.max(peak, count);
    if (window <= lastWindow) inPeriod += count;
  }
  const mean = inPeriod / (lastWindow + 1);
  return { jitter: String(jitter), peakToMean: peak / mean, peakPerWindow: peak, t99, attempts };
}
