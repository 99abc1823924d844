/**
 * The exit codes of the command-line tool:
 * - `ok` (0): the answer completed, or the reader of stdout closed it (`| head`);
 * - `failed` (1): an HTTP error such as 401/403, a non-retryable error, or retries exhausted;
 * - `usage` (2): bad flags, no prompt, or no API key;
 * - `timedOut` (124, as GNU `timeout`): the answer did not complete within `--timeout`;
 * - `interrupted` (130): Ctrl-C aborted the request.
 *
 * @example
 * ```ts
 * process.exitCode = code === 'help' ? EXIT.ok : EXIT.usage;
 * ```
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, timedOut: 124, interrupted: 130 } as const;

/** One of the values of `EXIT`. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
