import { stripControls } from './stripControls.js';

/**
 * One line for an error, safe for a terminal: its message without the
 * library's source prefix, stripped of control characters and escape
 * sequences (a server's text may hold them), with whitespace collapsed. An `HttpError` already starts with its
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
 * ApiError('fromChatCompletion: bad \x1b]0;title\x07input')
 *   -> ApiError: bad input
 * ```
 *
 * @example
 * ```ts
 * process.stderr.write(`error: ${describeError(error)}\n`);
 * ```
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return oneLine(String(error));
  const message = oneLine(error.message.replace(/^from[A-Za-z]+: /, ''));
  return error.name === 'HttpError' ? message : `${oneLine(error.name)}: ${message}`;
}

function oneLine(text: string): string {
  // Line breaks become spaces first, so that stripping the other controls joins no words.
  return stripControls(text.replace(/\s+/g, ' ')).replace(/\s+/g, ' ').trim();
}
