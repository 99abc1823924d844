/** Replaces every occurrence of each secret in `text` with `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret !== '' && result.includes(secret)) result = result.split(secret).join('[redacted]');
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
