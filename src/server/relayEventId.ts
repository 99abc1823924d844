/** A position in one log: the log's name and an entry's `seq`. */
export interface RelayPosition {
  readonly log: string;
  readonly seq: number;
}

/** The longest `Last-Event-ID` read as a position; anything longer is not one of ours. */
const MAX_ID_LENGTH = 120;
const EVENT_ID = /^([0-9A-Za-z_.:-]{1,80})-(\d{1,15})$/;

/**
 * The SSE id of entry `seq` of `log`: `<log>-<seq>`, so that a
 * `Last-Event-ID` names one position in one log and a reader can tell an id
 * of another log (a restarted process, an expired and reused stream id).
 *
 * ```text
 * ('9f2c41d07ab3e2c5', 12)  →  '9f2c41d07ab3e2c5-12'
 * ```
 *
 * @example
 * ```ts
 * const id = formatRelayEventId(lease.log, 12);
 * ```
 */
export function formatRelayEventId(log: string, seq: number): string {
  return `${log}-${seq}`;
}

/**
 * The position a `Last-Event-ID` names, or `undefined` for anything that is
 * not `<log>-<seq>` (empty, malformed, too long, control characters). Never
 * throws: the header is the client's.
 *
 * ```text
 * '9f2c41d07ab3e2c5-12'  →  { log: '9f2c41d07ab3e2c5', seq: 12 }
 * '12', 'x'.repeat(1e6)  →  undefined
 * ```
 *
 * @example
 * ```ts
 * const position = parseRelayEventId(request.headers['last-event-id']);
 * ```
 */
export function parseRelayEventId(id: unknown): RelayPosition | undefined {
  if (typeof id !== 'string' || id.length > MAX_ID_LENGTH) return undefined;
  const match = EVENT_ID.exec(id);
  if (!match) return undefined;
  return { log: match[1]!, seq: Number(match[2]) };
}
