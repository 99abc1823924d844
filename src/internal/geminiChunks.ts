import { ApiError } from '../errors.js';
import type { ChatCompletionChunk, ChatCompletionChunkChoice, ToolCallDelta, Usage } from '../types.js';
import { cleanField, findErrorObject, toApiError } from './errorObject.js';
import { parsePayload, payloadObject, type JsonObject as Json } from './parsePayload.js';
import type { EventSourceMessage } from './serverSentEvents.js';

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
  /** Candidates that have had their role chunk. */
  started: Set<number>;
  /** Candidates that have had their `finishReason`. */
  ended: Set<number>;
}

let streams = 0;

export function newGeminiState(): GeminiStreamState {
  streams += 1;
  return {
    id: `gemini-${Date.now().toString(36)}-${streams}`,
    idFixed: false,
    finished: false,
    toolCalls: new Map(),
    started: new Set(),
    ended: new Set(),
  };
}

/**
 * Maps one Gemini `GenerateContentResponse` chunk to a normalized chunk:
 * text parts → `content`, thought parts → `reasoning_content`, `functionCall`
 * parts → whole tool calls, `finishReason` → `finish_reason` (`STOP` after a
 * function call → `tool_calls`), `usageMetadata` → usage.
 */
export function geminiChunk(message: EventSourceMessage, state: GeminiStreamState, secrets: readonly string[], source: string): ChatCompletionChunk[] {
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
      const k = state.toolCalls.get(index) ?? 0;
      state.toolCalls.set(index, k + 1);
      toolCalls.push({
        index: k,
        id: part.functionCall.id ?? `${state.id}-call-${k}`,
        type: 'function',
        function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) },
      });
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
    state.ended.add(index);
    const called = (state.toolCalls.get(index) ?? 0) > 0;
    finishReason = candidate.finishReason === 'STOP' && called ? 'tool_calls' : (GEMINI_FINISH_REASONS[candidate.finishReason] ?? candidate.finishReason.toLowerCase());
  }
  return { index, delta, finish_reason: finishReason };
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
