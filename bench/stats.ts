/** The median of the finite values (a round with a wrong answer is NaN, and left out). */
export function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The median over rounds of `times[i] / baseline[i]`: each round runs every
 * contender once, back to back, so each ratio compares runs made under the
 * same machine state, and a round disturbed for both cancels out. More robust
 * on a shared machine than the ratio of the two medians, which pairs runs
 * from different rounds.
 */
export function pairedRatio(times: number[], baseline: number[]): number {
  return median(times.map((ms, round) => ms / baseline[round]!));
}

/** The value at quantile `q` (0 to 1) of `values` (nearest rank, from below), NaN when there are none. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export const min = (values: number[]) => Math.min(...values.filter(Number.isFinite));
export const max = (values: number[]) => Math.max(...values.filter(Number.isFinite));

/** Rotates `items` by `round`, so no contender always runs first. */
export function rotate<T>(items: T[], round: number): T[] {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export const fmt = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
export const kilo = (value: number) => `${(value / 1000).toFixed(0)}k`;
