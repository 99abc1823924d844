const NOTE = 'Not retried:';

/** A duration for a person: `45 s`, `2 min`, `1.5 h`. */
function humanDuration(ms: number): string {
  if (ms === Infinity) return 'forever';
  if (ms < 120_000) return `${Math.round(ms / 100) / 10} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 6_000) / 10} min`;
  return `${Math.round(ms / 360_000) / 10} h`;
}

/**
 * Says in a retryable error's message why `retryWithBackoff` gave up on it at
 * once: the server's `Retry-After` asked for a longer wait than
 * `maxRetryAfter`. The same error object is returned (its type, fields and
 * `retryable` unchanged), its message completed once.
 */
export function withRetryAfterNote(error: unknown, retryAfterMs: number, maxRetryAfter: number): unknown {
  if (!(error instanceof Error) || error.message.includes(NOTE)) return error;
  error.message +=
    ` ${NOTE} the server asked to wait ${humanDuration(retryAfterMs)} (Retry-After), longer than retryWithBackoff's maxRetryAfter ` +
    `(${humanDuration(maxRetryAfter)}). Raise maxRetryAfter to wait that long, or try again later.`;
  return error;
}
