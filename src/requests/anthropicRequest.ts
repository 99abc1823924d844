/** A content block of an Anthropic Messages request. */
export type AnthropicContentBlock =
  | { type: 'text'; text: string; cache_control?: AnthropicCacheControl | null; citations?: readonly unknown[] | null }
  | { type: 'image'; source: { type: 'base64'; media_type: 'image/jpeg' | 'image/png' | 'image/gif' | 'image/webp'; data: string } | { type: 'url'; url: string } | { type: 'file'; file_id: string }; cache_control?: AnthropicCacheControl | null }
  | { type: 'document'; source: Record<string, unknown>; title?: string | null; context?: string | null; citations?: { enabled?: boolean }; cache_control?: AnthropicCacheControl | null }
  | { type: 'tool_use'; id: string; name: string; input: unknown; cache_control?: AnthropicCacheControl | null }
  | { type: 'tool_result'; tool_use_id: string; content?: string | ReadonlyArray<{ type: 'text'; text: string } | { type: 'image'; source: Record<string, unknown> }>; is_error?: boolean; cache_control?: AnthropicCacheControl | null }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string };

/** Prompt caching: cache the prompt up to this block. */
export interface AnthropicCacheControl {
  type: 'ephemeral';
  ttl?: '5m' | '1h';
}

/** A message of the conversation: `user` or `assistant` (the system prompt is `system`). */
export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: string | readonly AnthropicContentBlock[];
}

/** A tool the model may use: a client tool with its input schema, or one of Anthropic's server tools. */
export type AnthropicTool =
  | { name: string; description?: string; input_schema: Record<string, unknown>; type?: 'custom'; cache_control?: AnthropicCacheControl | null }
  | { type: `${'web_search' | 'bash' | 'text_editor' | 'code_execution' | 'computer' | 'web_fetch'}_${string}`; name: string; [setting: string]: unknown };

/** An Anthropic Messages request body, with the fields Anthropic documents; `stream: true` is added for you. */
export interface AnthropicMessagesRequest {
  model: string;
  max_tokens: number;
  messages: readonly AnthropicMessage[];
  system?: string | ReadonlyArray<{ type: 'text'; text: string; cache_control?: AnthropicCacheControl | null }>;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  stop_sequences?: readonly string[];
  tools?: readonly AnthropicTool[];
  tool_choice?: { type: 'auto' | 'any'; disable_parallel_tool_use?: boolean } | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean } | { type: 'none' };
  thinking?: { type: 'enabled'; budget_tokens: number } | { type: 'disabled' };
  metadata?: { user_id?: string | null };
  service_tier?: 'auto' | 'standard_only';
  /** JSON outputs: the reply's text follows the schema (see `anthropicOutputFormat`). */
  output_config?: { format?: { type: 'json_schema'; schema: Record<string, unknown> }; [setting: string]: unknown };
  stream?: true;
}
