import { ApiError, type ApiErrorDetails } from '../errors.js';
import { redact } from './redact.js';

/** The longest provider message an error repeats. */
const MAX_MESSAGE_LENGTH = 500;

export interface ErrorObject extends ApiErrorDetails {
  message: string;
}

/**
 * Finds a provider's error object in a parsed JSON body or event, in the shapes
 * seen in the wild: `{error: {message, type, code, param}}` (OpenAI, Gemini with
 * `status`, most relays), `{type: "error", error: {...}}` (Anthropic),
 * `{error: "text"}` (Ollama), `{object: "error", message, type, code}` (vLLM).
 */
export function findErrorObject(json: unknown): ErrorObject | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const record = json as Record<string, unknown>;
  const { error } = record;
  if (typeof error === 'string' && error !== '') return { message: error };
  if (typeof error === 'object' && error !== null) {
    const inner = error as Record<string, unknown>;
    return {
      message: typeof inner.message === 'string' ? inner.message : JSON.stringify(error),
      type: stringField(inner.type) ?? stringField(inner.status),
      code: typeof inner.code === 'number' ? inner.code : stringField(inner.code),
      param: stringField(inner.param),
    };
  }
  if (record.object === 'error' && typeof record.message === 'string') {
    return {
      message: record.message,
      type: stringField(record.type),
      code: typeof record.code === 'number' ? record.code : stringField(record.code),
    };
  }
  return undefined;
}

/** Turns an error object sent inside a stream into an `ApiError`. */
export function toApiError(found: ErrorObject, secrets: readonly string[]): ApiError {
  const kind = found.type ?? (found.code === undefined ? undefined : String(found.code));
  const message = `The provider sent an error${kind ? ` (${kind})` : ''}: ${cleanMessage(found.message, secrets)}`;
  return new ApiError(message, found);
}

/** A provider message, single-line, shortened, without secrets. */
export function cleanMessage(message: string, secrets: readonly string[]): string {
  const oneLine = redact(message, secrets).replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_MESSAGE_LENGTH ? `${oneLine.slice(0, MAX_MESSAGE_LENGTH)}…` : oneLine;
}

function stringField(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
