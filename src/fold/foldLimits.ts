import { ParseError } from '../errors.js';

/**
 * The most tool calls one choice of one stream may open. Models send a
 * handful; past this the stream is hostile or broken.
 */
export const MAX_TOOL_CALLS = 1024;

/** The most choices (distinct choice indices) one stream may have; `n` is at most 128 at OpenAI. */
export const MAX_CHOICES = 128;

/**
 * The most UTF-16 code units of text (content, reasoning, refusal and tool
 * arguments of every choice together) one stream may fold: 64 Mi, far above
 * any model's output and far below V8's string limit (2²⁹ − 24), so a
 * concatenation never throws a plain `RangeError`.
 */
export const MAX_TEXT_LENGTH = 64 * 1024 * 1024;

/** The `ParseError` of a stream that went past one of the limits above. */
export function limitError(what: string): ParseError {
  return new ParseError(`accumulateContent: ${what}; the stream is not a plausible completion, so it was stopped.`, '');
}
