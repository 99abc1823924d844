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
 *
 * @example
 * ```ts
 * fromChatCompletion(options).subscribe((event) => (event === DONE ? console.log('end') : console.log(event.choices[0]?.delta.content)));
 * ```
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
  /** A string; Mistral's reasoning models send an array of parts instead (`ContentPart`). */
  content?: string | ContentPart[] | null;
  refusal?: string | null;
  /** DeepSeek, xAI, vLLM, Qwen. */
  reasoning_content?: string | null;
  /** OpenRouter, gpt-oss hosts. */
  reasoning?: string | null;
  tool_calls?: ToolCallDelta[];
}

/**
 * One part of an array-valued `delta.content` (Mistral): `text` parts are
 * answer text, `thinking` parts (their `thinking` holds text parts) are
 * reasoning. Other part types are ignored by `accumulateContent`.
 */
export type ContentPart =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: Array<{ type: 'text'; text: string }> | string }
  | { type: string; [field: string]: unknown };

/** One fragment of a tool call. Only `arguments` is spread over many fragments. */
export interface ToolCallDelta {
  /** Position of the call in the message; absent in some OpenAI-compatible layers. */
  index?: number;
  id?: string;
  type?: 'function';
  /** `arguments` is a JSON text; a few servers send the object itself, which is folded as `JSON.stringify(object)`. */
  function?: { name?: string; arguments?: string | object };
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

/** A tool call as accumulated so far. Read-only. */
export interface ToolCallSnapshot {
  readonly index: number;
  readonly id?: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

/** One choice (`n > 1` gives several) as accumulated so far. Read-only. */
export interface ChoiceSnapshot {
  readonly index: number;
  readonly content: string;
  readonly reasoning: string;
  readonly refusal: string;
  readonly toolCalls: readonly ToolCallSnapshot[];
  readonly finishReason: string | null;
}

/**
 * The whole message so far. Every snapshot is a new object and the library
 * never changes it: it is typed read-only all the way down (parts that did
 * not change are shared with the snapshot before), and what every stream
 * shares (the empty `toolCalls` and `choices` arrays) is frozen.
 */
export interface ChatCompletionSnapshot {
  /** The first non-empty chunk `id`; ids never split or restart a snapshot. */
  readonly id?: string;
  readonly model?: string;
  /** Choice 0: `delta.content` joined (and the `text` parts of an array-valued content). */
  readonly content: string;
  /** Choice 0: `delta.reasoning_content` / `delta.reasoning` joined (and `thinking` content parts). */
  readonly reasoning: string;
  /** Choice 0: `delta.refusal` joined. */
  readonly refusal: string;
  /** Choice 0: tool calls merged by index. */
  readonly toolCalls: readonly ToolCallSnapshot[];
  /** Choice 0: the last non-null finish reason. */
  readonly finishReason: string | null;
  /** From the usage chunk (`choices: []`) or the finish chunk. */
  readonly usage?: Readonly<Usage>;
  /** Every choice, by choice index. */
  readonly choices: readonly ChoiceSnapshot[];
}
