import { limitError, MAX_TEXT_LENGTH } from './foldLimits.js';

/** What a stream has folded so far, counted against `MAX_TEXT_LENGTH`. */
export interface TextBudget {
  textLength: number;
}

/** `text + fragment`, counting the fragment; past the limit a `ParseError`. */
export function appendText(budget: TextBudget, text: string, fragment: string): string {
  if (fragment === '') return text;
  budget.textLength += fragment.length;
  if (budget.textLength > MAX_TEXT_LENGTH) {
    throw limitError(`the stream sent more than ${MAX_TEXT_LENGTH} characters of text`);
  }
  return text + fragment;
}

/** The answer text and the reasoning carried by one array-valued `delta.content`. */
export interface PartsText {
  content: string;
  reasoning: string;
}

/**
 * Joins Mistral's content parts: `{type: 'text', text}` is answer text;
 * `{type: 'thinking', thinking: [{type: 'text', text}]}` (or a plain string
 * `thinking`) is reasoning. Parts of other types, and fields of the wrong
 * type, are skipped.
 */
export function textOfParts(parts: readonly unknown[]): PartsText {
  let content = '';
  let reasoning = '';
  for (const part of parts) {
    if (typeof part !== 'object' || part === null) continue;
    const { type, text, thinking } = part as { type?: unknown; text?: unknown; thinking?: unknown };
    if (type === 'text' && typeof text === 'string') content += text;
    else if (type === 'thinking') reasoning += thinkingText(thinking);
  }
  return { content, reasoning };
}

function thinkingText(thinking: unknown): string {
  if (typeof thinking === 'string') return thinking;
  if (!Array.isArray(thinking)) return '';
  let text = '';
  for (const part of thinking) {
    if (typeof part === 'object' && part !== null && typeof (part as { text?: unknown }).text === 'string') {
      text += (part as { text: string }).text;
    }
  }
  return text;
}
