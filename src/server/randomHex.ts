import { randomFillSync } from 'node:crypto';

/** Random bytes drawn at once and handed out in slices: one `randomBytes` call costs microseconds, a slice of a pool almost nothing. */
const pool = Buffer.alloc(4096);
let used = pool.length;

/**
 * `bytes` cryptographically random bytes as hex (log names and lease
 * tokens: no `-`, so an event id `<log>-<seq>` splits at its last `-`).
 * Each byte is handed out once.
 *
 * @example
 * ```ts
 * const token = randomHex(16); // 32 hex characters
 * ```
 */
export function randomHex(bytes: number): string {
  if (bytes > pool.length) return randomFillSync(Buffer.alloc(bytes)).toString('hex');
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const hex = pool.toString('hex', used, used + bytes);
  used += bytes;
  return hex;
}
