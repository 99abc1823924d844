/**
 * Byte and JSON rules shared by the Durable Streams log stores and handler
 * (internal): offsets, content types, JSON-mode appends and bodies.
 */
import { DurableLogError } from './durableLogStore.js';

/** The offset of an empty stream. */
export const ZERO_OFFSET = '0000000000000000_0000000000000000';

/** `<16 digits>_<16 digits>`: fixed width, so offsets sort as their positions. */
export function formatOffset(readSeq: number, position: number): string {
  return `${String(readSeq).padStart(16, '0')}_${String(position).padStart(16, '0')}`;
}

/** The offset `length` bytes after `offset`. */
export function advanceOffset(offset: string, length: number): string {
  const [readSeq, position] = offset.split('_').map(Number) as [number, number];
  return formatOffset(readSeq, position + length);
}

/** `Application/JSON; charset=utf-8` → `application/json`. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Whether a stream of this content type is in JSON mode (messages are JSON values, reads are arrays). */
export function isJsonType(contentType: string | undefined): boolean {
  return mediaTypeOf(contentType) === 'application/json';
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A JSON-mode append as stored: each value on one line, followed by a comma
 * (an array appends its elements). Throws 400 for invalid JSON and for an
 * empty array (allowed only when creating: then it is nothing).
 */
export function storedJson(data: Uint8Array, creating: boolean): Uint8Array {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(data));
  } catch {
    throw new DurableLogError(400, 'Invalid JSON');
  }
  if (Array.isArray(parsed)) {
    if (parsed.length === 0) {
      if (creating) return new Uint8Array(0);
      throw new DurableLogError(400, 'Empty arrays are not allowed');
    }
    return encoder.encode(parsed.map((value) => `${JSON.stringify(value)},`).join(''));
  }
  return encoder.encode(`${JSON.stringify(parsed)},`);
}

/** The JSON values of stored JSON-mode messages, as one array body. */
export function jsonBody(messages: readonly { data: Uint8Array; offset: string }[]): Uint8Array {
  const values: string[] = [];
  for (const message of messages) {
    const text = decoder.decode(message.data).trimEnd().replace(/,$/, '');
    if (text === '') continue;
    for (const value of JSON.parse(`[${text}]`) as unknown[]) values.push(withOffset(value, message.offset));
  }
  return encoder.encode(`[${values.join(',')}]`);
}

/** State-protocol values (`headers.operation` or `headers.control`) carry the offset of their message. */
function withOffset(value: unknown, offset: string): string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return JSON.stringify(value);
  const headers = (value as { headers?: unknown }).headers;
  if (headers === null || typeof headers !== 'object') return JSON.stringify(value);
  const { operation, control } = headers as { operation?: unknown; control?: unknown };
  if (typeof operation !== 'string' && typeof control !== 'string') return JSON.stringify(value);
  return JSON.stringify({ ...(value as object), headers: { ...(headers as object), offset } });
}

/** A read's body: JSON mode's array, or the bytes of the messages one after another. */
export function bodyOf(contentType: string | undefined, messages: readonly { data: Uint8Array; offset: string }[]): Uint8Array {
  if (isJsonType(contentType)) return jsonBody(messages);
  const body = new Uint8Array(messages.reduce((sum, message) => sum + message.data.length, 0));
  let at = 0;
  for (const message of messages) {
    body.set(message.data, at);
    at += message.data.length;
  }
  return body;
}

/**
 * The first `subOffset` bytes (JSON mode: values) of a source message, which
 * a fork created with `Stream-Fork-Sub-Offset` inherits as its first own
 * message. Throws 400 when the message is shorter.
 */
export function subOffsetPrefix(message: Uint8Array | undefined, subOffset: number, json: boolean): Uint8Array {
  if (message === undefined) throw new DurableLogError(400, 'Invalid fork sub-offset: no data past the fork offset');
  if (!json) {
    if (subOffset > message.length) throw new DurableLogError(400, 'Invalid fork sub-offset: beyond the message');
    return message.slice(0, subOffset);
  }
  const values = JSON.parse(`[${decoder.decode(message).trimEnd().replace(/,$/, '')}]`) as unknown[];
  if (subOffset > values.length) throw new DurableLogError(400, 'Invalid fork sub-offset: beyond the message');
  return encoder.encode(values.slice(0, subOffset).map((value) => `${JSON.stringify(value)},`).join(''));
}
