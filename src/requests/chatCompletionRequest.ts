/** A text part of a Chat Completions message. */
export interface ChatTextPart {
  type: 'text';
  text: string;
}

/** An image part (a URL or a `data:` URL) of a user message. */
export interface ChatImagePart {
  type: 'image_url';
  image_url: { url: string; detail?: 'auto' | 'low' | 'high' };
}

/** An audio part of a user message (base64). */
export interface ChatAudioPart {
  type: 'input_audio';
  input_audio: { data: string; format: 'wav' | 'mp3' };
}

/** A file part of a user message (an uploaded file's id, or base64 data). */
export interface ChatFilePart {
  type: 'file';
  file: { file_id?: string; file_data?: string; filename?: string };
}

/** A refusal part of an assistant message. */
export interface ChatRefusalPart {
  type: 'refusal';
  refusal: string;
}

/** A tool call an assistant message made (sent back in the conversation). */
export interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** The messages of a Chat Completions conversation, by `role`. */
export type ChatMessage =
  | { role: 'system' | 'developer'; content: string | readonly ChatTextPart[]; name?: string }
  | { role: 'user'; content: string | ReadonlyArray<ChatTextPart | ChatImagePart | ChatAudioPart | ChatFilePart>; name?: string }
  | {
      role: 'assistant';
      content?: string | ReadonlyArray<ChatTextPart | ChatRefusalPart> | null;
      name?: string;
      refusal?: string | null;
      tool_calls?: readonly ChatToolCall[];
      /** DeepSeek's prefix completion (beta): continue this message. */
      prefix?: boolean;
      /** DeepSeek and vLLM: the reasoning of an earlier turn. */
      reasoning_content?: string;
    }
  | { role: 'tool'; content: string | readonly ChatTextPart[]; tool_call_id: string };

/** A function the model may call. */
export interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean | null };
}

/** `response_format`: free text, any JSON object, or JSON that follows a schema. */
export type ChatResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; description?: string; schema?: Record<string, unknown>; strict?: boolean | null } };

/**
 * A Chat Completions request body (OpenAI and compatible servers), with the
 * fields OpenAI documents; `stream: true` is added for you. Fields other
 * servers add go in the source's type argument (`WithExtensions`).
 */
export interface ChatCompletionRequest {
  /** The model; some local servers ignore it. */
  model?: string;
  messages?: readonly ChatMessage[];
  temperature?: number | null;
  top_p?: number | null;
  n?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  stop?: string | readonly string[] | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  seed?: number | null;
  user?: string;
  tools?: readonly ChatTool[];
  tool_choice?: 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };
  parallel_tool_calls?: boolean;
  response_format?: ChatResponseFormat;
  reasoning_effort?: 'minimal' | 'low' | 'medium' | 'high' | null;
  stream?: true;
  stream_options?: { include_usage?: boolean } | null;
  metadata?: Record<string, string> | null;
  store?: boolean | null;
  service_tier?: 'auto' | 'default' | 'flex' | 'priority' | null;
  modalities?: ReadonlyArray<'text' | 'audio'> | null;
  audio?: { voice: string; format: 'wav' | 'mp3' | 'flac' | 'opus' | 'pcm16' } | null;
  prediction?: { type: 'content'; content: string | readonly ChatTextPart[] } | null;
  verbosity?: 'low' | 'medium' | 'high' | null;
  web_search_options?: Record<string, unknown>;
  prompt_cache_key?: string;
  safety_identifier?: string;
}
