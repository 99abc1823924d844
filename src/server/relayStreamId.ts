/** 1 to 200 characters of `A-Z a-z 0-9 - _ . :`. */
const STREAM_ID = /^[A-Za-z0-9\-_.:]{1,200}$/;

/**
 * Whether `id` can name a relayed stream: 1 to 200 characters of
 * `A-Z a-z 0-9 - _ . :`. Routes answer 400 to anything else before asking
 * the relay (which rejects it with a `TypeError`, writing nothing).
 *
 * ```text
 * 'chat-42', 'user:7.answer_3'   →  true
 * '', 'a b', 'x'.repeat(201)     →  false
 * ```
 *
 * @example
 * ```ts
 * if (!isRelayStreamId(request.params.id)) return response.status(400).end();
 * ```
 */
export function isRelayStreamId(id: unknown): id is string {
  return typeof id === 'string' && STREAM_ID.test(id);
}

/** Throws a `TypeError` naming `where` unless `id` is a valid stream id. */
export function assertRelayStreamId(where: string, id: unknown): string {
  if (!isRelayStreamId(id)) {
    const shown = typeof id === 'string' ? `a string of ${id.length} characters` : typeof id;
    throw new TypeError(`${where}: a stream id must be 1 to 200 characters of A-Z a-z 0-9 - _ . : (got ${shown}).`);
  }
  return id;
}

/** Throws a `TypeError` unless `owner` is `undefined` or a string of 1 to 200 characters without control characters. */
export function assertRelayOwner(where: string, owner: unknown): string | undefined {
  if (owner === undefined) return undefined;
  // eslint-disable-next-line no-control-regex
  if (typeof owner !== 'string' || owner.length < 1 || owner.length > 200 || /[\u0000-\u001f\u007f]/.test(owner)) {
    throw new TypeError(`${where}: options.owner must be a string of 1 to 200 characters without control characters.`);
  }
  return owner;
}
