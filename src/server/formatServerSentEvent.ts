/** One event to send, as the SSE wire format can carry it. */
export interface ServerSentEventInit {
  /** The payload: a string is sent as it is (line breaks become several `data:` lines). */
  data?: string;
  /** The event type (`event:`); left out, browsers dispatch it as `message`. */
  event?: string;
  /** The event id (`id:`), which a reconnecting client sends back as `Last-Event-ID`. */
  id?: string;
  /** The client's reconnection delay in ms (`retry:`), a non-negative integer. */
  retry?: number;
  /** A comment line (`: ...`), ignored by clients; keeps proxies from closing an idle connection. */
  comment?: string;
}

/**
 * The SSE frame of one event, ending with the blank line that dispatches it.
 * CR and LF cannot break out of a field: `data` is split into one `data:` line
 * per line, `event` and `id` lose their line breaks (and `id` its NUL, which
 * would make clients ignore it), `comment` becomes one comment line per line.
 *
 * ```text
 * { id: '3', event: 'chunk', data: 'a\nb' }  →  "event: chunk\nid: 3\ndata: a\ndata: b\n\n"
 * { comment: 'ping' }                         →  ": ping\n\n"
 * ```
 *
 * @example
 * ```ts
 * response.write(formatServerSentEvent({ id: '1', data: JSON.stringify(chunk) }));
 * ```
 */
export function formatServerSentEvent(event: ServerSentEventInit): string {
  let frame = '';
  if (event.comment !== undefined) frame += eachLine(': ', event.comment);
  if (event.event !== undefined) frame += `event: ${singleLine(event.event)}\n`;
  if (event.id !== undefined) frame += `id: ${withoutNul(singleLine(event.id))}\n`;
  if (event.retry !== undefined && Number.isInteger(event.retry) && event.retry >= 0) frame += `retry: ${event.retry}\n`;
  if (event.data !== undefined) frame += eachLine('data: ', event.data);
  return `${frame}\n`;
}

/** `prefix` before each line of `text` (lines end at CRLF, CR or LF), each line ending with LF; one line needs no split. */
function eachLine(prefix: string, text: string): string {
  if (!hasLineBreak(text)) return `${prefix}${text}\n`;
  let lines = '';
  for (const line of text.split(/\r\n|\r|\n/)) lines += `${prefix}${line}\n`;
  return lines;
}

function hasLineBreak(text: string): boolean {
  return text.includes('\n') || text.includes('\r');
}

function singleLine(text: string): string {
  return hasLineBreak(text) ? text.replace(/[\r\n]/g, '') : text;
}

function withoutNul(text: string): string {
  return text.includes('\0') ? text.replace(/\0/g, '') : text;
}
