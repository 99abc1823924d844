import { isDeepStrictEqual } from 'node:util';

/**
 * The order in which a partial JSON value may grow into a later one: `a` is a
 * prefix of `b` when
 * - `a` is `undefined` (nothing shown yet), or
 * - both are strings and `b` starts with `a`, or
 * - both are the same number, boolean or null, or
 * - both are arrays, `a` is no longer than `b`, every element of `a` but the
 *   last equals `b`'s at the same place, and the last is a prefix of `b`'s, or
 * - both are objects, `a`'s keys are the first keys of `b` in the same order,
 *   every value of `a` but the last key's equals `b`'s, and the last is a
 *   prefix of `b`'s.
 * So a field never changes type, never disappears, and a finished part never
 * changes.
 */
export function isJsonPrefix(a: unknown, b: unknown): boolean {
  if (a === undefined) return true;
  if (typeof a === 'string') return typeof b === 'string' && b.startsWith(a);
  if (a === null || typeof a !== 'object') return Object.is(a, b);
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length > b.length) return false;
    for (let i = 0; i < a.length - 1; i++) if (!isDeepStrictEqual(a[i], b[i])) return false;
    return a.length === 0 || isJsonPrefix(a[a.length - 1], b[a.length - 1]);
  }
  if (b === null || typeof b !== 'object' || Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length > keysB.length || keysA.some((key, i) => keysB[i] !== key)) return false;
  const recordA = a as Record<string, unknown>;
  const recordB = b as Record<string, unknown>;
  for (let i = 0; i < keysA.length - 1; i++) if (!isDeepStrictEqual(recordA[keysA[i]!], recordB[keysA[i]!])) return false;
  return keysA.length === 0 || isJsonPrefix(recordA[keysA[keysA.length - 1]!], recordB[keysA[keysA.length - 1]!]);
}

/** Whether every object and array inside `value` is frozen. */
export function isDeeplyFrozen(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  return Object.isFrozen(value) && Object.values(value).every(isDeeplyFrozen);
}
