import { ApiError, type ApiErrorDetails } from '../errors.js';
import { redact, stripControls } from './redact.js';

/** The longest provider message an error repeats. */
const MAX_MESSAGE_LENGTH = 500;
/** The longest `type`, `code` or `param` an error repeats. */
const MAX_FIELD_LENGTH = 100;

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
      message: typeof inner.message === 'string' ? inner.message : jsonOrNote(error),
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

/**
 * Turns a provider's error object into an `ApiError`. Every string the server
 * supplied (message, `type`, `code`, `param`) is cleaned by {@link cleanField}.
 */
export function toApiError(found: ErrorObject, secrets: readonly string[]): ApiError {
  const details = {
    type: cleanField(found.type, secrets),
    code: typeof found.code === 'number' ? found.code : cleanField(found.code, secrets),
    param: cleanField(found.param, secrets),
  };
  const kind = details.type ?? (details.code === undefined ? undefined : String(details.code));
  const message = `The provider sent an error${kind ? ` (${kind})` : ''}: ${cleanMessage(found.message, secrets)}`;
  return new ApiError(message, details);
}

/**
 * A provider message as an error may repeat it: control characters and
 * terminal sequences removed, on one line, every form of every secret
 * replaced with `[redacted]`, at most 500 characters.
 */
export function cleanMessage(message: string, secrets: readonly string[]): string {
  return clean(message, secrets, MAX_MESSAGE_LENGTH);
}

/**
 * A short server-supplied field (an error `type`, `code` or `param`, Gemini's
 * `blockReason`) cleaned like {@link cleanMessage} and cut at 100 characters;
 * `undefined` when absent or empty.
 */
export function cleanField(value: string | undefined, secrets: readonly string[]): string | undefined {
  if (typeof value !== 'string') return undefined;
  const cleaned = clean(value, secrets, MAX_FIELD_LENGTH);
  return cleaned === '' ? undefined : cleaned;
}

function clean(text: string, secrets: readonly string[], maxLength: number): string {
  // Controls go and whitespace collapses before the secrets are matched, so
  // neither can hide a key from the match; the cut comes last.
  const oneLine = redact(stripControls(String(text)).replace(/\s+/g, ' ').trim(), secrets);
  return oneLine.length > maxLength ? `${oneLine.slice(0, maxLength)}…` : oneLine;
}

function stringField(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** An error object without a message, as JSON; one nested too deeply to write says so instead of throwing a RangeError. */
function jsonOrNote(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '(an error object nested too deeply to quote)';
  }
}
