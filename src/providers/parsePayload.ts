// src/providers/: each API's wire -> chunk mapping (Anthropic, Gemini, Responses; the OpenAI one is
// inline in sources/fromChatCompletion.ts), the payload parsing they share, and continuation (resuming a
// partial answer). May import transport/, timing/, json/, internal/ and the root modules (errors, types,
// streamStart); never sources/, operators/ or server/ (npm run lint:layout).

import { ParseError } from '../errors.js';
import { excerpt } from '../transport/serverSentEvents.js';

/** A parsed JSON object whose fields are read defensively. */
export type JsonObject = Record<string, any>;

/** Parses one SSE `data:` payload; a payload that is not JSON is a `ParseError` quoting it, secrets redacted. */
export function parsePayload(data: string, secrets: readonly string[], source: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    throw new ParseError(`${source}: a data payload is not JSON: ${excerpt(data, secrets)}`, excerpt(data, secrets));
  }
}

/** Returns `json` when it is a plain object, else throws a `ParseError` naming what was expected. */
export function payloadObject(json: unknown, data: string, secrets: readonly string[], source: string, expected: string): JsonObject {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ParseError(`${source}: a data payload is JSON but not ${expected}: ${excerpt(data, secrets)}`, excerpt(data, secrets));
  }
  return json as JsonObject;
}
