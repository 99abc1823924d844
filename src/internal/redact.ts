/** Secrets shorter than this are redacted only where they stand alone, not inside words. */
const SHORT_SECRET = 8;

/**
 * Replaces every occurrence of each secret in `text` with `[redacted]`. A
 * short secret (a test key such as `k`) is replaced only where it stands
 * alone (not inside a word or a longer token), so a provider's message stays
 * readable instead of losing every letter `k`.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret === '' || !result.includes(secret)) continue;
    if (secret.length >= SHORT_SECRET) result = result.split(secret).join('[redacted]');
    else result = result.replace(new RegExp(`(?<![\\w-])${secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`, 'g'), '[redacted]');
  }
  return result;
}

/**
 * Returns `error` itself when neither its message nor its stack (nor those of
 * its causes) mention a secret; otherwise a plain copy with the secrets
 * replaced, so a transport error can be kept as a `cause` without leaking.
 */
export function redactError(error: unknown, secrets: readonly string[], depth = 0): unknown {
  if (!(error instanceof Error) || depth > 4) return error;
  const cause = 'cause' in error ? redactError(error.cause, secrets, depth + 1) : undefined;
  const clean = redact(error.message, secrets) === error.message && redact(String(error.stack), secrets) === String(error.stack);
  if (clean && cause === (error as { cause?: unknown }).cause) return error;
  const copy = new Error(redact(error.message, secrets), cause === undefined ? undefined : { cause });
  copy.name = error.name;
  copy.stack = redact(String(error.stack), secrets);
  return copy;
}
