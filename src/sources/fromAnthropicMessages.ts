import { Observable, defer, mergeMap } from 'rxjs';
import { anthropicEvents, newAnthropicState } from '../providers/anthropicChunks.js';
import { assertContinuation, continuable } from '../providers/continuation.js';
import { serverSentEvents } from '../transport/serverSentEvents.js';
import { markFirstFresh } from '../transport/index.js';
import { prepareStreamRequest, type StreamRequest, type TransportOptions } from '../transport/streamRequest.js';
import { assertApiKey, assertHeaderValue, assertHttpUrl, assertObject, joinBaseUrl } from '../internal/validate.js';
import type { ChatCompletionEvent } from '../types.js';
import type { AnthropicMessagesRequest } from '../requests/anthropicRequest.js';
import type { NotInferred, WithExtensions } from '../requests/extensions.js';

export type { AnthropicMessagesRequest };

/** Options of `fromAnthropicMessages`. */
export interface AnthropicMessagesOptions<Extra extends object = Record<never, never>> extends TransportOptions {
  /** Default: `https://api.anthropic.com/v1`; the request goes to `{baseURL}/messages`. */
  baseURL?: string | undefined;
  /** The full endpoint URL, overriding `baseURL`. */
  url?: string | undefined;
  /** Sent as `x-api-key`; omit it when a proxy adds the credentials. */
  apiKey?: string | undefined;
  /** The `anthropic-version` header. Default: `'2023-06-01'`. */
  anthropicVersion?: string | undefined;
  /** The native Messages request: `model`, `max_tokens`, `messages`, `system`, `tools`, `thinking`, ... */
  body: WithExtensions<AnthropicMessagesRequest, Extra>;
  /**
   * Opt-in: `'prefill'` continues a dropped answer by sending its partial
   * text as the final assistant turn (trailing whitespace trimmed) instead of
   * starting over. Not with extended thinking (a `TypeError` here), not
   * after a tool call (that restarts). See docs/continuation.md.
   */
  continuation?: 'prefill' | undefined;
}

/**
 * The `baseURL` `fromAnthropicMessages` uses when none is given: Anthropic's API.
 *
 * @example
 * ```ts
 * const baseURL = process.env['ANTHROPIC_BASE_URL'] ?? DEFAULT_ANTHROPIC_BASE_URL; // a proxy's URL, or Anthropic's
 * fromAnthropicMessages({ baseURL, apiKey, body }).pipe(untilDone(), accumulateContent());
 * ```
 */
export const DEFAULT_ANTHROPIC_BASE_URL = 'https://api.anthropic.com/v1';

/**
 * The `anthropic-version` header sent when the options name none.
 *
 * @example
 * ```ts
 * // Pin the version your code was written against, not the library's default:
 * fromAnthropicMessages({ apiKey, body, headers: { 'anthropic-version': DEFAULT_ANTHROPIC_VERSION } });
 * ```
 */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

const SOURCE = 'fromAnthropicMessages';

/**
 * Streams one answer from Anthropic's Messages API, normalized to the same
 * `ChatCompletionChunk | DONE` events as `fromChatCompletion`, so
 * `untilDone`, `accumulateContent` and `retryWithBackoff` work unchanged.
 * Cold: one `POST` per subscription; unsubscribing aborts it.
 *
 * ```text
 * server:  message_start  text_delta "Hi"  message_delta(end_turn)  message_stop
 * result:  --c(role)------c("Hi")----------c(finish: stop, usage)---D--|
 * ```
 *
 * Mapping: `message_start` → id, model, role (and input usage);
 * `text_delta` → `delta.content`; `thinking_delta` → `delta.reasoning_content`;
 * a `tool_use` block → `delta.tool_calls` (id and name first, then its
 * `input_json_delta` fragments as `arguments`, indexed by tool order);
 * `message_delta` → `finish_reason` (`end_turn`/`stop_sequence` → `stop`,
 * `max_tokens` → `length`, `tool_use` → `tool_calls`, `refusal` →
 * `content_filter`, others as they are) and usage (cumulative counts,
 * overwritten); `message_stop` → `DONE`; `ping` is ignored; `event: error`
 * → `ApiError` (retryable for `overloaded_error` and `api_error`). Server
 * tools (`server_tool_use` and their results) are run by Anthropic and are
 * not surfaced as tool calls; signatures, citations and redacted thinking
 * are dropped.
 *
 * @example
 * ```ts
 * fromAnthropicMessages({
 *   apiKey: process.env.ANTHROPIC_API_KEY,
 *   body: { model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user', content: 'Hello' }] },
 * }).pipe(untilDone(), accumulateContent(), retryWithBackoff())
 *   .subscribe((snapshot) => render(snapshot.content));
 * ```
 */
export function fromAnthropicMessages<Extra extends object = Record<never, never>>(options: AnthropicMessagesOptions<NotInferred<Extra>>): Observable<ChatCompletionEvent> {
  assertObject(`${SOURCE}: options`, options);
  const body = assertObject<AnthropicMessagesRequest>(`${SOURCE}: options.body`, options.body);
  const url =
    options.url !== undefined
      ? assertHttpUrl(`${SOURCE}: options.url`, options.url)
      : joinBaseUrl(`${SOURCE}: options.baseURL`, options.baseURL ?? DEFAULT_ANTHROPIC_BASE_URL, 'messages');
  const version = assertHeaderValue(`${SOURCE}: options.anthropicVersion`, options.anthropicVersion ?? DEFAULT_ANTHROPIC_VERSION);
  if (version.trim() === '') throw new TypeError(`${SOURCE}: options.anthropicVersion is empty; leave it out for '${DEFAULT_ANTHROPIC_VERSION}'.`);
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    Accept: 'text/event-stream',
    'anthropic-version': version,
  };
  const apiKey = assertApiKey(SOURCE, options.apiKey, 'leave it out when a proxy adds the credentials');
  const secrets = apiKey === undefined ? [] : [apiKey];
  if (apiKey !== undefined) headers['x-api-key'] = apiKey;
  const request = prepareStreamRequest(SOURCE, options, { url, body: JSON.stringify({ ...body, stream: true }), headers, secrets });
  const events = (attempt: StreamRequest) =>
    defer(() => {
      const state = newAnthropicState();
      return serverSentEvents(attempt).pipe(mergeMap((message) => anthropicEvents(message, state, request.secrets, SOURCE)), markFirstFresh());
    });
  if (assertContinuation(SOURCE, options.continuation, ['prefill'], body) === undefined) return events(request);
  if (body.thinking !== undefined && (body.thinking as { type?: unknown } | null)?.type !== 'disabled') {
    throw new TypeError(`${SOURCE}: options.continuation 'prefill' cannot be used with extended thinking (options.body.thinking); Anthropic refuses a prefilled answer then.`);
  }
  return continuable((partial) => {
    if (partial === undefined) return events(request);
    const messages = [...body.messages, { role: 'assistant', content: partial }];
    return events({ ...request, body: JSON.stringify({ ...body, messages, stream: true }) });
  }, true);
}
