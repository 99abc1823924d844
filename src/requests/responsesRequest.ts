/** An input content part of the Responses API. */
export type ResponsesInputPart =
  | { type: 'input_text'; text: string }
  | { type: 'input_image'; image_url?: string; file_id?: string; detail?: 'auto' | 'low' | 'high' }
  | { type: 'input_file'; file_id?: string; file_data?: string; file_url?: string; filename?: string };

/** One item of `input`: a message, or a function call and its output from an earlier turn. */
export type ResponsesInputItem =
  | { type?: 'message'; role: 'user' | 'system' | 'developer' | 'assistant'; content: string | readonly ResponsesInputPart[] | ReadonlyArray<{ type: 'output_text'; text: string }> }
  | { type: 'function_call'; call_id: string; name: string; arguments: string; id?: string }
  | { type: 'function_call_output'; call_id: string; output: string }
  | { type: 'reasoning'; id: string; summary: ReadonlyArray<{ type: 'summary_text'; text: string }>; encrypted_content?: string }
  | { type: 'item_reference'; id: string };

/** A tool of the Responses API: a function, or one of OpenAI's hosted tools. */
export type ResponsesTool =
  | { type: 'function'; name: string; description?: string; parameters?: Record<string, unknown> | null; strict?: boolean | null }
  | { type: 'web_search' | 'web_search_preview' | 'file_search' | 'code_interpreter' | 'image_generation' | 'mcp' | 'computer_use_preview'; [setting: string]: unknown };

/** `text.format`: free text, any JSON object, or JSON that follows a schema. */
export type ResponsesTextFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown>; description?: string; strict?: boolean | null };

/** A Responses API request body, with the fields OpenAI documents; `stream: true` is added for you. */
export interface ResponsesRequest {
  model?: string;
  input?: string | readonly ResponsesInputItem[];
  instructions?: string | null;
  /** With `true` (and `store: true`) a dropped stream is resumed instead of restarted. */
  background?: boolean | null;
  store?: boolean | null;
  previous_response_id?: string | null;
  conversation?: string | { id: string } | null;
  max_output_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  tools?: readonly ResponsesTool[];
  tool_choice?: 'none' | 'auto' | 'required' | { type: 'function'; name: string } | { type: string; [setting: string]: unknown };
  parallel_tool_calls?: boolean | null;
  text?: { format?: ResponsesTextFormat; verbosity?: 'low' | 'medium' | 'high' | null };
  reasoning?: { effort?: 'minimal' | 'low' | 'medium' | 'high' | null; summary?: 'auto' | 'concise' | 'detailed' | null } | null;
  truncation?: 'auto' | 'disabled' | null;
  include?: readonly string[] | null;
  metadata?: Record<string, string> | null;
  user?: string;
  service_tier?: 'auto' | 'default' | 'flex' | 'priority' | null;
  stream?: true;
  prompt_cache_key?: string;
  safety_identifier?: string;
}
