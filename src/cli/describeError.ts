/**
 * One line for an error: its message without the library's source prefix
 * and with whitespace collapsed. An `HttpError` already starts with its
 * status (`HTTP 401 Unauthorized: ...`); every other error is prefixed with
 * its name (`NetworkError: ...`), since the name says what kind of failure it
 * was. The library never puts the API key into a message; this adds nothing
 * but the name.
 *
 * ```text
 * HttpError(401, 'HTTP 401 Unauthorized: Incorrect API key provided.')
 *   -> HTTP 401 Unauthorized: Incorrect API key provided.
 * NetworkError('fromChatCompletion: the connection was reset\n  while reading')
 *   -> NetworkError: the connection was reset while reading
 * ```
 *
 * @example
 * ```ts
 * process.stderr.write(`error: ${describeError(error)}\n`);
 * ```
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error).replace(/\s+/g, ' ').trim();
  const message = error.message.replace(/^from[A-Za-z]+: /, '').replace(/\s+/g, ' ').trim();
  return error.name === 'HttpError' ? message : `${error.name}: ${message}`;
}
