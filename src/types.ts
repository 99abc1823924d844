/**
 * Wire types of the OpenAI chat-completions streaming protocol, as the sources
 * emit them, and the snapshots that `accumulateContent` folds them into.
 *
 * Fields that only some providers send are optional; unknown extra fields pass
 * through untouched at run time.
 */

/**
 * The sentinel a source emits for `data: [DONE]`, the end of a completion.
 * Registered with `Symbol.for`, so the ESM and CJS copies of the package agree.
 */
export const DONE: unique symbol = Symbol.for('rxjs-llm-stream.DONE');

/** What a source emits: a parsed chunk, or `DONE` at the end. */
export type ChatCompletionEvent = ChatCompletionChunk | typeof DONE;

/** One `data:` payload of an OpenAI-compatible chat-completions stream. */
export interface ChatCompletionChunk {
  id: string;
  object?: string;
  created?: number;
  model?: string;
  system_fingerprint?: string | null;
  service_tier?: string | null;
  choices: ChatCompletionChunkChoice[];
  /** `null` on ordinary chunks with `include_usage`; set on the usage chunk (or the finish chunk, DeepSeek). */
  usage?: Usage | null;
}

export interface ChatCompletionChunkChoice {
  index: number;
  delta: ChatCompletionDelta;
  logprobs?: unknown;
  finish_reason: string | null;
}

export interface ChatCompletionDelta {
  role?: string;
  content?: string | null;
  refusal?: string | null;
  /** DeepSeek, xAI, vLLM, Qwen. */
  reasoning_content?: string | null;
  /** OpenRouter, gpt-oss hosts. */
  reasoning?: string | null;
  tool_calls?: ToolCallDelta[];
}

/** One fragment of a tool call. Only `arguments` is spread over many fragments. */
export interface ToolCallDelta {
  /** Position of the call in the message; absent in some OpenAI-compatible layers. */
  index?: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

/** Token counts; providers add their own fields. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number; audio_tokens?: number } | null;
  completion_tokens_details?: {
    reasoning_tokens?: number;
    audio_tokens?: number;
    accepted_prediction_tokens?: number;
    rejected_prediction_tokens?: number;
  } | null;
  [vendorField: string]: unknown;
}

/** A tool call as accumulated so far. */
export interface ToolCallSnapshot {
  index: number;
  id?: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** One choice (`n > 1` gives several) as accumulated so far. */
export interface ChoiceSnapshot {
  index: number;
  content: string;
  reasoning: string;
  refusal: string;
  toolCalls: ToolCallSnapshot[];
  finishReason: string | null;
}

/** The whole message so far; every snapshot is a new object and never changes. */
export interface ChatCompletionSnapshot {
  id?: string;
  model?: string;
  /** Choice 0: `delta.content` joined. */
  content: string;
  /** Choice 0: `delta.reasoning_content` / `delta.reasoning` joined. */
  reasoning: string;
  /** Choice 0: `delta.refusal` joined. */
  refusal: string;
  /** Choice 0: tool calls merged by index. */
  toolCalls: ToolCallSnapshot[];
  /** Choice 0. */
  finishReason: string | null;
  /** From the usage chunk (`choices: []`) or the finish chunk. */
  usage?: Usage;
  /** Every choice, by choice index. */
  choices: ChoiceSnapshot[];
}
