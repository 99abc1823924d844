import { ApiError, ParseError } from '../errors.js';
import type { ChatCompletionChunk, ChatCompletionChunkChoice, ToolCallDelta, Usage } from '../types.js';
import { cleanField, findErrorObject, toApiError } from '../internal/errorObject.js';
import { parsePayload, payloadObject, type JsonObject as Json } from './parsePayload.js';
import type { EventSourceMessage } from '../transport/serverSentEvents.js';

/** Gemini `finishReason` → OpenAI-style `finish_reason`; others are lower-cased. */
export const GEMINI_FINISH_REASONS: Readonly<Record<string, string>> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
};

/** What one Gemini stream has told so far: one per subscription. */
export interface GeminiStreamState {
  /** `responseId`, or one made up per subscription when Gemini sends none. */
  id: string;
  /** True once the id is in use: a `responseId` that turns up later must not change it mid-answer. */
  idFixed: boolean;
  /** True once every candidate seen has had a `finishReason`: the body may then end. */
  finished: boolean;
  /** Candidate index → function calls seen so far. */
  toolCalls: Map<number, number>;
  /** Candidate index → the call whose arguments are still streaming (Vertex `willContinue`). */
  openCalls: Map<number, OpenCall>;
  /** Candidates that have had their role chunk. */
  started: Set<number>;
  /** Candidates that have had their `finishReason`. */
  ended: Set<number>;
}

/** A function call opened by `{name, willContinue: true}`: its index and the arguments assembled so far. */
export interface OpenCall {
  index: number;
  args: Record<string, unknown>;
}

/** Own-property lookup, so `"__proto__"` or `"toString"` never read `Object.prototype`. */
const own = (map: Readonly<Record<string, string>>, key: string): string | undefined =>
  Object.prototype.hasOwnProperty.call(map, key) ? map[key] : undefined;

let streams = 0;

export function newGeminiState(): GeminiStreamState {
  streams += 1;
  return {
    id: `gemini-${Date.now().toString(36)}-${streams}`,
    idFixed: false,
    finished: false,
    toolCalls: new Map(),
    openCalls: new Map(),
    started: new Set(),
    ended: new Set(),
  };
}

/**
 * The chunks of one Gemini response; a tool input nested too deeply (or too large) to
 * write as JSON ends in a typed `ParseError`, never a plain `RangeError`.
 */
export function geminiChunk(message: EventSourceMessage, state: GeminiStreamState, secrets: readonly string[], source: string): ChatCompletionChunk[] {
  try {
    return geminiChunkUnguarded(message, state, secrets, source);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new ParseError(`${source}: a tool input is nested too deeply, or is too large, to write as JSON.`, '');
  }
}

/**
 * Maps one Gemini `GenerateContentResponse` chunk to a normalized chunk:
 * text parts → `content`, thought parts → `reasoning_content`, `functionCall`
 * parts → whole tool calls, `finishReason` → `finish_reason` (`STOP` after a
 * function call → `tool_calls`), `usageMetadata` → usage.
 *
 * Streamed arguments (Vertex `streamFunctionCallArguments`): `{name,
 * willContinue: true}` opens a call (its name and id are sent at once),
 * `partialArgs` build its arguments (`stringValue` appends at its `jsonPath`,
 * `numberValue`, `boolValue` and `nullValue` set), and the first part without
 * `willContinue` (`{functionCall: {}}`) closes it: the arguments are then sent
 * whole, as one JSON text. A call still open at `finishReason` is closed there.
 */
function geminiChunkUnguarded(message: EventSourceMessage, state: GeminiStreamState, secrets: readonly string[], source: string): ChatCompletionChunk[] {
  if (message.data === '') return [];
  const parsed = parsePayload(message.data, secrets, source);
  const found = findErrorObject(parsed);
  if (found) throw toApiError(found, secrets);
  const json = payloadObject(parsed, message.data, secrets, source, 'a response object');
  if (!state.idFixed && typeof json.responseId === 'string' && json.responseId !== '') state.id = json.responseId;
  const candidates: Json[] = Array.isArray(json.candidates) ? json.candidates.filter(isObject) : [];
  const rawBlockReason = json.promptFeedback?.blockReason;
  if (candidates.length === 0 && typeof rawBlockReason === 'string') {
    const blockReason = cleanField(rawBlockReason, secrets) ?? '';
    throw new ApiError(`${source}: Gemini blocked the prompt (${blockReason}); rephrase it or change the safety settings.`, {
      type: 'prompt_blocked',
      code: blockReason,
    });
  }
  const choices = candidates.map((candidate, position) => toChoice(candidate, typeof candidate.index === 'number' ? candidate.index : position, state));
  state.finished = state.ended.size > 0 && state.ended.size === state.started.size;
  const usage = toUsage(json.usageMetadata);
  if (choices.length === 0 && !usage) return [];
  state.idFixed = true;
  return [{ id: state.id, object: 'chat.completion.chunk', model: json.modelVersion, choices, ...(usage ? { usage } : {}) }];
}

function toChoice(candidate: Json, index: number, state: GeminiStreamState): ChatCompletionChunkChoice {
  const parts: Json[] = Array.isArray(candidate.content?.parts) ? candidate.content.parts.filter(isObject) : [];
  let content = '';
  let reasoning = '';
  const toolCalls: ToolCallDelta[] = [];
  for (const part of parts) {
    if (typeof part.text === 'string') {
      if (part.thought === true) reasoning += part.text;
      else content += part.text;
    } else if (isObject(part.functionCall)) {
      const call = functionCallDelta(part.functionCall, index, state);
      if (call) toolCalls.push(call);
    }
  }
  const delta: ChatCompletionChunkChoice['delta'] = {};
  if (!state.started.has(index)) {
    state.started.add(index);
    delta.role = 'assistant';
  }
  if (content !== '') delta.content = content;
  if (reasoning !== '') delta.reasoning_content = reasoning;
  if (toolCalls.length > 0) delta.tool_calls = toolCalls;
  let finishReason: string | null = null;
  if (typeof candidate.finishReason === 'string') {
    const open = state.openCalls.get(index);
    if (open) {
      state.openCalls.delete(index);
      (delta.tool_calls ??= []).push({ index: open.index, function: { arguments: JSON.stringify(open.args) } });
    }
    state.ended.add(index);
    const called = (state.toolCalls.get(index) ?? 0) > 0;
    finishReason = candidate.finishReason === 'STOP' && called ? 'tool_calls' : (own(GEMINI_FINISH_REASONS, candidate.finishReason) ?? candidate.finishReason.toLowerCase());
  }
  return { index, delta, finish_reason: finishReason };
}

/**
 * One `functionCall` part → a tool-call delta, or nothing: a whole call; the
 * opening of a streamed call (name and id, empty arguments); a piece of a
 * streamed call (nothing until it closes); its closing (the assembled
 * arguments). A part that is none of these (no name, no call open) is ignored.
 */
function functionCallDelta(functionCall: Json, candidate: number, state: GeminiStreamState): ToolCallDelta | undefined {
  const open = state.openCalls.get(candidate);
  if (open) {
    applyPartialArgs(open.args, functionCall.partialArgs);
    if (functionCall.willContinue === true) return undefined;
    state.openCalls.delete(candidate);
    return { index: open.index, function: { arguments: JSON.stringify(open.args) } };
  }
  if (typeof functionCall.name !== 'string') return undefined;
  const k = state.toolCalls.get(candidate) ?? 0;
  state.toolCalls.set(candidate, k + 1);
  const id = typeof functionCall.id === 'string' && functionCall.id !== '' ? functionCall.id : `${state.id}-call-${k}`;
  if (functionCall.willContinue === true) {
    const args = isObject(functionCall.args) ? { ...functionCall.args } : {};
    applyPartialArgs(args, functionCall.partialArgs);
    state.openCalls.set(candidate, { index: k, args });
    return { index: k, id, type: 'function', function: { name: functionCall.name, arguments: '' } };
  }
  return { index: k, id, type: 'function', function: { name: functionCall.name, arguments: JSON.stringify(functionCall.args ?? {}) } };
}

function applyPartialArgs(args: Record<string, unknown>, partialArgs: unknown): void {
  if (Array.isArray(partialArgs)) for (const piece of partialArgs) if (isObject(piece)) applyPartialArg(args, piece);
}

/** Applies one `partialArgs` entry to the arguments being assembled; a malformed entry is ignored. */
function applyPartialArg(args: Record<string, unknown>, piece: Json): void {
  let value: unknown;
  let append = false;
  if (typeof piece.stringValue === 'string') [value, append] = [piece.stringValue, true];
  else if (typeof piece.numberValue === 'number') value = piece.numberValue;
  else if (typeof piece.boolValue === 'boolean') value = piece.boolValue;
  else if ('nullValue' in piece) value = null;
  else return;
  const keys = typeof piece.jsonPath === 'string' ? pathKeys(piece.jsonPath) : undefined;
  if (!keys || keys.length === 0) return;
  let node: unknown = args;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const last = i === keys.length - 1;
    const container = node as Record<string | number, unknown>;
    if (typeof key === 'number' ? !Array.isArray(node) || key > node.length : !isObject(node)) return;
    const present = Object.prototype.hasOwnProperty.call(container, key) ? container[key] : undefined;
    let next: unknown;
    if (last) next = append && typeof present === 'string' ? present + (value as string) : value;
    else next = present ?? (typeof keys[i + 1] === 'number' ? [] : {});
    // defineProperty: a key such as "__proto__" becomes a plain own property, never the prototype.
    Object.defineProperty(container, key, { value: next, enumerable: true, writable: true, configurable: true });
    node = next;
  }
}

/** `$.a[0].b` or `$['a b'][1]` → `['a', 0, 'b']`; undefined for a path that is not one. */
function pathKeys(path: string): Array<string | number> | undefined {
  if (!path.startsWith('$')) return undefined;
  const keys: Array<string | number> = [];
  const step = /\.([^.[\]]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]/y;
  step.lastIndex = 1;
  while (step.lastIndex < path.length) {
    const match = step.exec(path);
    if (!match) return undefined;
    keys.push(match[2] !== undefined ? Number(match[2]) : (match[1] ?? match[3] ?? match[4])!);
  }
  return keys;
}

/** `usageMetadata` → the OpenAI usage shape; thoughts count as completion tokens, as OpenAI counts reasoning. */
function toUsage(metadata: Json | undefined): Usage | undefined {
  if (!metadata || typeof metadata !== 'object') return undefined;
  const prompt = metadata.promptTokenCount ?? 0;
  const thoughts = metadata.thoughtsTokenCount ?? 0;
  const completion = (metadata.candidatesTokenCount ?? 0) + thoughts;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: metadata.totalTokenCount ?? prompt + completion,
    prompt_tokens_details: { cached_tokens: metadata.cachedContentTokenCount ?? 0 },
    completion_tokens_details: { reasoning_tokens: thoughts },
  };
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
