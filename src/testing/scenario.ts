import { foldChunk, newFoldState } from '../fold/foldState.js';
import type { ChatCompletionSnapshot } from '../types.js';
/**
 * What the mock server streams for one request, independent of the wire
 * format: the same scenario renders as OpenAI, Anthropic or Gemini events.
 */

/** A fault the mock server injects into one response. */
export type MockFault =
  /**
   * Destroys the socket once `afterChunks` chunks are written. With `atByte`,
   * first writes that many bytes of the next chunk (cutting a line, the JSON,
   * or a UTF-8 character); `'midCharacter'` cuts right after the first byte of
   * the next chunk's first multi-byte character (its middle when it has none).
   */
  | { kind: 'drop'; afterChunks: number; atByte?: number | 'midCharacter' }
  /** Answers `status` with the format's error body and, if given, `Retry-After` / `retry-after-ms`. */
  | { kind: 'status'; status: number; retryAfter?: number | string; retryAfterMs?: number; message?: string }
  /** Writes `afterChunks` chunks, then nothing, holding the socket open until the client leaves. */
  | { kind: 'stall'; afterChunks: number }
  /** Writes the whole stream, end marker included, then holds the socket open. */
  | { kind: 'holdOpen' }
  /** Writes `afterChunks` chunks, then an in-stream error object, then ends. */
  | { kind: 'error'; afterChunks: number; errorType?: string; message?: string }
  /** Writes `afterChunks` chunks, then a `data:` line that is not JSON, then ends. */
  | { kind: 'malformed'; afterChunks: number; payload?: string };

/** One generation and how to deliver it. Every field is optional. */
export interface MockScenario {
  /** The answer; an array gives one text per choice (OpenAI format only). Default: {@link DEFAULT_TEXT}. */
  text?: string | string[];
  /**
   * Raw data payloads streamed instead of the ones generated from `text`,
   * `reasoning` and `toolCalls`: objects are sent as JSON, strings as they are.
   * OpenAI: chunk objects without an `id` get the request's id, and
   * `data: [DONE]` follows the list. Anthropic: each object's `type` names its
   * event; include `message_stop` yourself. Gemini: sent as they are.
   * {@link expectedOutput} folds an OpenAI chunk list like the library does.
   * Default: none.
   */
  chunks?: (object | string)[];
  /** Reasoning streamed before the answer (`reasoning_content`, `thinking`, thought parts). Default: none. */
  reasoning?: string;
  /** Tool calls streamed after the text; `arguments` is a JSON string split into fragments. Default: none. */
  toolCalls?: { id?: string; name: string; arguments: string }[];
  /** Sends token usage (a usage chunk, `message_delta.usage`, `usageMetadata`). Default: `true`. */
  usage?: boolean;
  /** Normalized finish reason. Default: `'tool_calls'` with tool calls, else `'stop'`. */
  finishReason?: string;
  /** Default: `'mock-model'`. */
  model?: string;
  /** Characters (code points) per content, reasoning or arguments chunk. Default: 4. */
  tokenSize?: number;
  /** Milliseconds between chunks. Default: 0. */
  paceMs?: number;
  /** Line ending of the SSE framing. Default: `'\n'`. */
  lineEnding?: '\n' | '\r\n' | '\r';
  /** Sends a `: keep-alive` comment before every Nth chunk (chunks N, 2N, ...; 1 = before each). Default: 0 (never). */
  keepAliveEvery?: number;
  /** Writes the body at most this many bytes at a time (1 = byte by byte). Default: 0 (whole chunks). */
  dribble?: number;
  /** Default: none. */
  fault?: MockFault;
}

/** What one full generation of a scenario sends, normalized like the library's snapshots. */
export interface ExpectedOutput {
  /** The text of each choice. */
  content: string[];
  reasoning: string;
  toolCalls: { id: string; name: string; arguments: string }[];
  finishReason: string;
}

/**
 * The answer the mock server streams when a scenario gives no `text`: a
 * sentence with accents, CJK characters and an emoji, so a split UTF-8
 * character shows up in tests.
 *
 * @example
 * ```ts
 * expect(snapshot.content).toBe(DEFAULT_TEXT); // after a default scenario, however many drops
 * ```
 */
export const DEFAULT_TEXT =
  'Streaming survives real networks: café, 中文, emoji 🚀, and no text lost or repeated.';

/** A scenario with every default filled in. */
export interface ResolvedScenario {
  texts: string[];
  chunks?: (object | string)[];
  reasoning: string;
  toolCalls: { id: string; name: string; arguments: string }[];
  usage: boolean;
  finishReason: string;
  model: string;
  tokenSize: number;
  paceMs: number;
  lineEnding: '\n' | '\r\n' | '\r';
  keepAliveEvery: number;
  dribble: number;
  fault?: MockFault;
}

export function resolveScenario(scenario: MockScenario = {}): ResolvedScenario {
  const text = scenario.text ?? DEFAULT_TEXT;
  const toolCalls = (scenario.toolCalls ?? []).map((call, k) => ({
    id: call.id ?? `call_mock_${k + 1}`,
    name: call.name,
    arguments: call.arguments,
  }));
  const tokenSize = scenario.tokenSize ?? 4;
  if (!Number.isInteger(tokenSize) || tokenSize < 1) throw new RangeError('mock scenario: tokenSize must be an integer >= 1.');
  return {
    texts: Array.isArray(text) ? [...text] : [text],
    chunks: scenario.chunks,
    reasoning: scenario.reasoning ?? '',
    toolCalls,
    usage: scenario.usage ?? true,
    finishReason: scenario.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop'),
    model: scenario.model ?? 'mock-model',
    tokenSize,
    paceMs: scenario.paceMs ?? 0,
    lineEnding: scenario.lineEnding ?? '\n',
    keepAliveEvery: scenario.keepAliveEvery ?? 0,
    dribble: scenario.dribble ?? 0,
    fault: scenario.fault,
  };
}

/**
 * What one full generation of `scenario` sends, for exact comparisons with
 * the final snapshot.
 *
 * @example
 * ```ts
 * const expected = expectedOutput(scenario);
 * expect(snapshot.content).toBe(expected.content[0]);
 * ```
 */
export function expectedOutput(scenario?: MockScenario): ExpectedOutput {
  const resolved = resolveScenario(scenario);
  if (resolved.chunks) return foldChunks(resolved.chunks);
  return {
    content: resolved.texts,
    reasoning: resolved.reasoning,
    toolCalls: resolved.toolCalls,
    finishReason: resolved.finishReason,
  };
}

/** Splits text into tokens of `size` code points (never inside a character). */
export function tokenize(text: string, size: number): string[] {
  const codePoints = Array.from(text);
  const tokens: string[] = [];
  for (let i = 0; i < codePoints.length; i += size) tokens.push(codePoints.slice(i, i + size).join(''));
  return tokens;
}

/** A rough, deterministic token count for the usage figures. */
export function countTokens(text: string, size: number): number {
  return Math.ceil(Array.from(text).length / size);
}

/**
 * What an OpenAI chunk list adds up to, folded by the library's own fold (the
 * one `accumulateContent` uses), so the expected output and the library never
 * disagree (Mistral's content parts, tool calls without an index, ...): text
 * per choice, reasoning, tool calls and finish reason of choice 0.
 */
function foldChunks(chunks: (object | string)[]): ExpectedOutput {
  const state = newFoldState();
  let snapshot: ChatCompletionSnapshot | undefined;
  for (const chunk of chunks) {
    const parsed: unknown = typeof chunk === 'string' ? safeParse(chunk) : chunk;
    if (typeof parsed === 'object' && parsed !== null) snapshot = foldChunk(state, parsed);
  }
  if (!snapshot) return { content: [''], reasoning: '', toolCalls: [], finishReason: '' };
  return {
    content: snapshot.choices.length > 0 ? snapshot.choices.map((choice) => choice.content) : [''],
    reasoning: snapshot.reasoning,
    toolCalls: snapshot.toolCalls.map((call) => ({ id: call.id ?? '', name: call.function.name, arguments: call.function.arguments })),
    finishReason: snapshot.finishReason ?? '',
  };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
