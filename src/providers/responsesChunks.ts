import { ParseError, type ApiError } from '../errors.js';
import { DONE, type ChatCompletionChunk, type ChatCompletionDelta, type ChatCompletionEvent, type ToolCallDelta, type Usage } from '../types.js';
import { cleanMessage, toApiError } from '../internal/errorObject.js';
import { parsePayload, payloadObject, type JsonObject as Json } from './parsePayload.js';
import type { EventSourceMessage } from '../transport/serverSentEvents.js';

/** `incomplete_details.reason` → OpenAI-style `finish_reason`; others pass through as they are. */
export const RESPONSES_INCOMPLETE_REASONS: Readonly<Record<string, string>> = {
  max_output_tokens: 'length',
  content_filter: 'content_filter',
};

/**
 * What one Responses API response has told so far. It lives as long as the
 * response, not the connection: a resumed stream continues with the same
 * state (tool calls opened before the drop, the text already shown).
 */
export interface ResponsesFold {
  /** The response id: the first one seen (GitHub Copilot sends a new one on every event). */
  id: string;
  model?: string;
  /** The highest `sequence_number` applied: where a resumed stream starts after. */
  cursor?: number;
  /** Set at `response.completed` / `.incomplete` / `.failed` or an `error` event: the response is over. */
  terminal: boolean;
  /** `output_index` of a `function_call` item → its tool call index (0, 1, ... in order of appearance). */
  toolIndexByOutput: Map<number, number>;
  /** Characters emitted per text part (`kind:output_index:sub_index`), so a `*.done` supplies only what no delta brought. */
  emitted: Map<string, number>;
  /**
   * The fold began after the start of the response (`resumeFrom` with `after`):
   * it never saw the earlier deltas, so a `*.done` supplies nothing (it could
   * only repeat what the application already holds).
   */
  partial?: boolean;
}

export function newResponsesFold(): ResponsesFold {
  return { id: '', terminal: false, toolIndexByOutput: new Map(), emitted: new Map() };
}

/** How one connection's events are read. */
export interface ResponsesContext {
  source: string;
  secrets: readonly string[];
  /** A resumed stream: events with a `sequence_number` at or below this were applied already and are dropped. */
  skipThrough?: number;
  /** A background response, whose id goes into resume and cancel URLs: an id that cannot is a `ParseError`. */
  strictIds?: boolean;
}

type TextKind = 'content' | 'refusal' | 'reasoning' | 'raw-reasoning';

const DELTA_FIELD: Record<TextKind, keyof ChatCompletionDelta> = {
  content: 'content',
  refusal: 'refusal',
  reasoning: 'reasoning_content',
  'raw-reasoning': 'reasoning_content',
};

/**
 * Maps one Responses API event to normalized chunks, keyed by `output_index`
 * (never `item_id`): text, refusal and reasoning deltas become `content`,
 * `refusal` and `reasoning_content`; a `function_call` item becomes a tool
 * call (id = `call_id`, name from `output_item.added`) whose arguments come
 * from `function_call_arguments.delta`; a `*.done` supplies only what no delta
 * brought. The terminal event gives the finish reason and usage, then `DONE`.
 * `response.failed` and `error` (nested or flat) throw an `ApiError`.
 * `keepalive`, `[DONE]`, tool progress and unknown types give nothing.
 */
export function responsesEvents(message: EventSourceMessage, fold: ResponsesFold, context: ResponsesContext): ChatCompletionEvent[] {
  const { data } = message;
  if (data === '' || data === '[DONE]' || fold.terminal) return [];
  const json = payloadObject(parsePayload(data, context.secrets, context.source), data, context.secrets, context.source, 'an event object');
  const type = typeof json.type === 'string' ? json.type : (message.event ?? '');
  if (type === 'error') {
    fold.terminal = true;
    throw errorFrom(json.error !== null && typeof json.error === 'object' ? json.error : json, json, context);
  }
  if (type === 'keepalive') return [];
  const sequence = json.sequence_number;
  // Only a safe integer is a position: 1.5, 1e308 or 2**53+1 are ignored (never sent back as starting_after).
  if (typeof sequence === 'number' && Number.isSafeInteger(sequence) && sequence >= 0) {
    // At or below the cursor: applied already (a resumed stream's overlap, or a server repeating itself), on every connection.
    if (fold.cursor !== undefined && sequence <= fold.cursor) return [];
    fold.cursor = sequence;
  }
  noteResponse(fold, json.response, context);
  const chunk = (delta: ChatCompletionDelta, finishReason: string | null = null, usage?: Usage): ChatCompletionChunk => ({
    id: fold.id,
    object: 'chat.completion.chunk',
    ...(fold.model === undefined ? {} : { model: fold.model }),
    choices: [{ index: 0, delta, finish_reason: finishReason }],
    ...(usage ? { usage } : {}),
  });
  const text = (kind: TextKind, sub: string, value: unknown, whole: boolean): ChatCompletionChunk[] => {
    const fragment = whole ? remainder(fold, kind, json, sub, value) : added(fold, kind, json, sub, value);
    return fragment === '' ? [] : [chunk({ [DELTA_FIELD[kind]]: fragment })];
  };
  switch (type) {
    case 'response.created':
      return [chunk({ role: 'assistant' })];
    case 'response.output_text.delta':
      return text('content', 'content_index', json.delta, false);
    case 'response.output_text.done':
      return text('content', 'content_index', json.text, true);
    case 'response.refusal.delta':
      return text('refusal', 'content_index', json.delta, false);
    case 'response.refusal.done':
      return text('refusal', 'content_index', json.refusal, true);
    case 'response.reasoning_summary_text.delta':
      return text('reasoning', 'summary_index', json.delta, false);
    case 'response.reasoning_summary_text.done':
      return text('reasoning', 'summary_index', json.text, true);
    case 'response.reasoning_text.delta':
      return text('raw-reasoning', 'content_index', json.delta, false);
    case 'response.reasoning_text.done':
      return text('raw-reasoning', 'content_index', json.text, true);
    case 'response.output_item.added':
    case 'response.output_item.done':
    case 'response.function_call_arguments.delta':
    case 'response.function_call_arguments.done':
      return functionCallChunks(type, json, fold).map((call) => chunk({ tool_calls: [call] }));
    case 'response.completed':
    case 'response.incomplete': {
      fold.terminal = true;
      const final: Json = isObject(json.response) ? json.response : {};
      return [chunk({}, finishReason(type, final, fold), toUsage(final.usage)), DONE];
    }
    case 'response.failed': {
      fold.terminal = true;
      const final: Json = isObject(json.response) ? json.response : {};
      throw errorFrom(isObject(final.error) ? final.error : { message: `the response failed (status ${String(final.status ?? 'failed')})` }, {}, context);
    }
    default:
      return [];
  }
}

/**
 * What a response id may be made of: the characters of OpenAI's `resp_…`
 * ids and of LiteLLM's base64 ones (`+`, `=`), at most 512 of them. Never
 * `.`, `..`, `/`, `?`, `#` or a space, which would take a resume `GET` or a
 * cancel `POST` (both sent with the key) out of `/responses/{id}`.
 */
export const RESPONSE_ID = /^[A-Za-z0-9_\-+=]{1,512}$/;

/** Whether `id` may be used in a resume or cancel URL. */
export function isResponseId(id: unknown): boolean {
  return typeof id === 'string' && RESPONSE_ID.test(id);
}

function noteResponse(fold: ResponsesFold, response: unknown, context: ResponsesContext): void {
  if (!isObject(response)) return;
  if (fold.id === '' && typeof response.id === 'string' && response.id !== '') {
    const id: string = response.id;
    if (context.strictIds === true && !isResponseId(id)) {
      throw new ParseError(
        `${context.source}: the server named its response with an id that cannot be used in a URL (only A-Z a-z 0-9 _ - + =, at most 512); ` +
          'it was not used for any resume or cancel request.',
        cleanMessage(id.slice(0, 80), context.secrets),
      );
    }
    fold.id = id;
  }
  if (fold.model === undefined && typeof response.model === 'string' && response.model !== '') fold.model = response.model;
}

function partKey(kind: TextKind, json: Json, sub: string): string {
  return `${kind}:${index(json.output_index)}:${index(json[sub])}`;
}

/** A delta: counted against its part and returned. */
function added(fold: ResponsesFold, kind: TextKind, json: Json, sub: string, delta: unknown): string {
  if (typeof delta !== 'string' || delta === '') return '';
  const key = partKey(kind, json, sub);
  fold.emitted.set(key, (fold.emitted.get(key) ?? 0) + delta.length);
  return delta;
}

/** A `*.done` with the whole text: what the deltas did not bring (all of it when none came). */
function remainder(fold: ResponsesFold, kind: TextKind, json: Json, sub: string, whole: unknown): string {
  if (typeof whole !== 'string' || fold.partial) return '';
  const key = partKey(kind, json, sub);
  const emitted = fold.emitted.get(key) ?? 0;
  if (whole.length <= emitted) return '';
  fold.emitted.set(key, whole.length);
  return whole.slice(emitted);
}

/**
 * Function calls, keyed by `output_index`: `output_item.added` opens one
 * (id = `call_id`, the name), the arguments deltas extend it, and the two
 * `.done` events supply arguments only when no delta brought any. Server
 * tools (`web_search_call`, `code_interpreter_call`, ...) are not calls the
 * application answers, and give nothing.
 */
function functionCallChunks(type: string, json: Json, fold: ResponsesFold): ToolCallDelta[] {
  const output = index(json.output_index);
  const item: Json = isObject(json.item) ? json.item : {};
  const isCall = item.type === 'function_call';
  const key = `arguments:${output}`;
  const open = (): ToolCallDelta[] => {
    if (fold.toolIndexByOutput.has(output)) return [];
    const toolIndex = fold.toolIndexByOutput.size;
    fold.toolIndexByOutput.set(output, toolIndex);
    const call: ToolCallDelta = { index: toolIndex, type: 'function', function: { name: typeof item.name === 'string' ? item.name : '', arguments: '' } };
    if (typeof item.call_id === 'string' && item.call_id !== '') call.id = item.call_id;
    return [call];
  };
  const args = (fragment: string): ToolCallDelta[] => {
    if (fragment === '') return [];
    fold.emitted.set(key, (fold.emitted.get(key) ?? 0) + fragment.length);
    return [{ index: fold.toolIndexByOutput.get(output)!, function: { arguments: fragment } }];
  };
  const rest = (whole: unknown): string => {
    const emitted = fold.emitted.get(key) ?? 0;
    return typeof whole === 'string' && whole.length > emitted && !fold.partial ? whole.slice(emitted) : '';
  };
  switch (type) {
    case 'response.output_item.added':
      return isCall ? [...open(), ...args(typeof item.arguments === 'string' ? item.arguments : '')] : [];
    case 'response.output_item.done':
      return isCall ? [...open(), ...args(rest(item.arguments))] : [];
    case 'response.function_call_arguments.delta':
      // A delta for a call this fold never saw opened (a stream resumed in a new page): open it nameless.
      return typeof json.delta === 'string' && json.delta !== '' ? [...open(), ...args(json.delta)] : [];
    default:
      return fold.toolIndexByOutput.has(output) ? args(rest(json.arguments)) : [];
  }
}

function finishReason(type: string, final: Json, fold: ResponsesFold): string {
  if (type === 'response.completed') return fold.toolIndexByOutput.size > 0 ? 'tool_calls' : 'stop';
  const reason: unknown = isObject(final.incomplete_details) ? final.incomplete_details.reason : undefined;
  if (typeof reason !== 'string' || reason === '') return 'length';
  return RESPONSES_INCOMPLETE_REASONS[reason] ?? reason;
}

/** The terminal response's usage → the OpenAI usage shape, with the Responses fields kept. */
function toUsage(usage: unknown): Usage | undefined {
  if (!isObject(usage) || typeof usage.input_tokens !== 'number') return undefined;
  const prompt = usage.input_tokens;
  const completion = typeof usage.output_tokens === 'number' ? usage.output_tokens : 0;
  const result: Usage = {
    ...usage,
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: typeof usage.total_tokens === 'number' ? usage.total_tokens : prompt + completion,
  };
  const cached = isObject(usage.input_tokens_details) ? usage.input_tokens_details.cached_tokens : undefined;
  if (typeof cached === 'number') result.prompt_tokens_details = { cached_tokens: cached };
  const reasoning = isObject(usage.output_tokens_details) ? usage.output_tokens_details.reasoning_tokens : undefined;
  if (typeof reasoning === 'number') result.completion_tokens_details = { reasoning_tokens: reasoning };
  return result;
}

/**
 * An `ApiError` from an error object read field by field: the nested shape
 * (`{type: "error", error: {type, code, message}}`, what OpenAI sends) or the
 * documented flat one (`{type: "error", code, message, param}`), whose `type`
 * names the event, not the error.
 */
function errorFrom(inner: Json, outer: Json, context: ResponsesContext): ApiError {
  const message = typeof inner.message === 'string' ? inner.message : typeof outer.message === 'string' ? outer.message : 'unknown error';
  const code = codeOf(inner.code) ?? codeOf(outer.code);
  const type = inner !== outer && typeof inner.type === 'string' && inner.type !== '' ? inner.type : undefined;
  const param = typeof inner.param === 'string' && inner.param !== '' ? inner.param : undefined;
  return toApiError({ message, type, code, param }, context.secrets);
}

function codeOf(value: unknown): string | number | undefined {
  return (typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isFinite(value)) ? value : undefined;
}

/** An `output_index` / `content_index` / `summary_index`: a non-negative integer, else 0. */
function index(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
