import { ParseError } from '../errors.js';
import { DONE, type ChatCompletionChunk, type ChatCompletionDelta, type ChatCompletionEvent, type Usage } from '../types.js';
import { findErrorObject, toApiError } from '../internal/errorObject.js';
import { parsePayload, payloadObject, type JsonObject as Json } from './parsePayload.js';
import type { EventSourceMessage } from '../transport/serverSentEvents.js';

/** Anthropic `stop_reason` → OpenAI-style `finish_reason`; others pass through as they are. */
export const ANTHROPIC_FINISH_REASONS: Readonly<Record<string, string>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

/** What one Anthropic stream has told so far: one per subscription. */
export interface AnthropicStreamState {
  id: string;
  model?: string;
  usage: Record<string, number>;
  /** Content block index → tool call index. */
  toolIndexByBlock: Map<number, number>;
  /**
   * Content block index → the `input` of its `content_block_start`, kept until the
   * first `input_json_delta` that brings text (then deleted): a block that ends with
   * no text gives `JSON.stringify(input)` at `content_block_stop`.
   */
  inputByBlock: Map<number, unknown>;
}

export function newAnthropicState(): AnthropicStreamState {
  return { id: '', usage: {}, toolIndexByBlock: new Map(), inputByBlock: new Map() };
}

/**
 * The chunks of one Anthropic event; a tool input nested too deeply (or too large) to
 * write as JSON ends in a typed `ParseError`, never a plain `RangeError`.
 */
export function anthropicEvents(message: EventSourceMessage, state: AnthropicStreamState, secrets: readonly string[], source: string): ChatCompletionEvent[] {
  try {
    return anthropicEventsUnguarded(message, state, secrets, source);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new ParseError(`${source}: a tool input is nested too deeply, or is too large, to write as JSON.`, '');
  }
}

/**
 * Maps one Anthropic Messages event to normalized chunks: `message_start`
 * gives the id, model and role; text, thinking and tool-input deltas become
 * `content`, `reasoning_content` and `tool_calls` deltas; `message_delta`
 * gives the finish reason and usage; `message_stop` is `DONE`. A tool call's
 * arguments are its `input_json_delta` fragments joined, or, when none brought
 * text, `JSON.stringify(input)` of its `content_block_start`, sent at
 * `content_block_stop` (a tool without parameters gives `"{}"`, never `""`).
 * `ping`, signatures, citations, redacted thinking and server tool blocks
 * (`server_tool_use`, `*_tool_result`) give nothing.
 */
function anthropicEventsUnguarded(message: EventSourceMessage, state: AnthropicStreamState, secrets: readonly string[], source: string): ChatCompletionEvent[] {
  if (message.data === '') return [];
  const json = payloadObject(parsePayload(message.data, secrets, source), message.data, secrets, source, 'an event object');
  const type: string = message.event ?? json.type;
  if (type === 'error' || (json.type === 'error' && json.error)) {
    const found = findErrorObject(json) ?? { message: 'unknown error' };
    throw toApiError(found, secrets);
  }
  const chunk = (delta: ChatCompletionDelta, finishReason: string | null = null, usage?: Usage): ChatCompletionChunk => ({
    id: state.id,
    object: 'chat.completion.chunk',
    model: state.model,
    choices: [{ index: 0, delta, finish_reason: finishReason }],
    ...(usage ? { usage } : {}),
  });
  switch (type) {
    case 'message_start': {
      const started: Json = json.message ?? {};
      state.id = String(started.id ?? '');
      state.model = started.model;
      Object.assign(state.usage, numbers(started.usage));
      return [chunk({ role: 'assistant', content: '' })];
    }
    case 'content_block_start': {
      const block: Json = json.content_block ?? {};
      // Only client tools: a `server_tool_use` block (web search, code execution) is run by
      // Anthropic itself and must not look like a call the application has to answer.
      if (block.type === 'tool_use') {
        const index = state.toolIndexByBlock.size;
        state.toolIndexByBlock.set(json.index, index);
        state.inputByBlock.set(json.index, block.input);
        return [chunk({ tool_calls: [{ index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } }] })];
      }
      if (block.type === 'text' && block.text) return [chunk({ content: block.text })];
      if (block.type === 'thinking' && block.thinking) return [chunk({ reasoning_content: block.thinking })];
      return [];
    }
    case 'content_block_delta': {
      const delta: Json = json.delta ?? {};
      if (delta.type === 'text_delta') return [chunk({ content: delta.text })];
      if (delta.type === 'thinking_delta') return [chunk({ reasoning_content: delta.thinking })];
      if (delta.type === 'input_json_delta' && delta.partial_json) {
        const index = state.toolIndexByBlock.get(json.index);
        if (index === undefined) return [];
        state.inputByBlock.delete(json.index);
        return [chunk({ tool_calls: [{ index, function: { arguments: delta.partial_json } }] })];
      }
      return [];
    }
    case 'content_block_stop': {
      const index = state.toolIndexByBlock.get(json.index);
      if (index === undefined || !state.inputByBlock.has(json.index)) return [];
      const input = state.inputByBlock.get(json.index);
      state.inputByBlock.delete(json.index);
      return [chunk({ tool_calls: [{ index, function: { arguments: JSON.stringify(input ?? {}) } }] })];
    }
    case 'message_delta': {
      Object.assign(state.usage, numbers(json.usage));
      const stopReason: string | null = json.delta?.stop_reason ?? null;
      return [chunk({}, stopReason === null ? null : finishReasonOf(stopReason), toUsage(state.usage))];
    }
    case 'message_stop':
      return [DONE];
    default:
      return [];
  }
}

/** The mapped reason by an own-property lookup (`"__proto__"` or `"toString"` pass through as strings); others as sent. */
function finishReasonOf(stopReason: unknown): string {
  const reason = String(stopReason);
  return Object.prototype.hasOwnProperty.call(ANTHROPIC_FINISH_REASONS, reason) ? ANTHROPIC_FINISH_REASONS[reason]! : reason;
}

/** Anthropic counters (cumulative: they overwrite) → the OpenAI usage shape, with Anthropic's fields kept. */
function toUsage(counts: Record<string, number>): Usage {
  const cacheRead = counts.cache_read_input_tokens ?? 0;
  const prompt = (counts.input_tokens ?? 0) + (counts.cache_creation_input_tokens ?? 0) + cacheRead;
  const completion = counts.output_tokens ?? 0;
  return {
    ...counts,
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cacheRead },
  };
}

function numbers(usage: unknown): Record<string, number> {
  const result: Record<string, number> = {};
  if (typeof usage === 'object' && usage !== null) {
    for (const [name, value] of Object.entries(usage)) if (typeof value === 'number') result[name] = value;
  }
  return result;
}
