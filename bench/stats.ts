export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export const min = (values: number[]) => Math.min(...values);
export const max = (values: number[]) => Math.max(...values);

/** Rotates `items` by `round`, so no contender always runs first. */
export function rotate<T>(items: T[], round: number): T[] {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export const fmt = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
export const kilo = (value: number) => `${(value / 1000).toFixed(0)}k`;
