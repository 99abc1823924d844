import { defer, type Observable } from 'rxjs';
import { assertContinuation, continuable, type ChatContinuation } from '../providers/continuation.js';
import { findErrorObject, toApiError } from '../internal/errorObject.js';
import { parsePayload, payloadObject } from '../providers/parsePayload.js';
import { serverSentEvents, type EventSourceMessage } from '../transport/serverSentEvents.js';
import { freshMarker, SKIP } from '../transport/index.js';
import { prepareStreamRequest, type StreamRequest, type TransportOptions } from '../transport/streamRequest.js';
import { assertApiKey, assertHttpUrl, assertObject, joinBaseUrl } from '../internal/validate.js';
import { DONE, type ChatCompletionChunk, type ChatCompletionEvent } from '../types.js';
import type { ChatCompletionRequest } from '../requests/chatCompletionRequest.js';
import type { NotInferred, WithExtensions } from '../requests/extensions.js';

export type { ChatCompletionRequest };

/** Options of `fromChatCompletion`. */
export interface ChatCompletionOptions<Extra extends object = Record<never, never>> extends TransportOptions {
  /** Default: `https://api.openai.com/v1`; the request goes to `{baseURL}/chat/completions`. */
  baseURL?: string | undefined;
  /** The full endpoint URL, overriding `baseURL` (Azure deployments, unusual paths). */
  url?: string | undefined;
  /** Sent as `Authorization: Bearer {apiKey}`; omit it for servers that need none. */
  apiKey?: string | undefined;
  /** The request: `model`, `messages`, `temperature`, `tools`, `stream_options`, ... */
  body: WithExtensions<ChatCompletionRequest, Extra>;
  /**
   * Opt-in: after a drop, ask the server to continue the partial answer
   * instead of starting over: `'vllm'` (`continue_final_message`) or
   * `'deepseek'` (`prefix: true`, on DeepSeek's beta base URL). Not after a
   * tool call or with `n > 1` (those restart). Default: restart. See
   * docs/continuation.md for the caveats.
   */
  continuation?: ChatContinuation | undefined;
}

/**
 * The `baseURL` a source uses when none is given: OpenAI's API.
 *
 * @example
 * ```ts
 * const baseURL = process.env['OPENAI_BASE_URL'] ?? DEFAULT_BASE_URL; // a relay's URL, or OpenAI's
 * fromChatCompletion({ baseURL, apiKey, body }).pipe(untilDone(), accumulateContent());
 * ```
 */
export const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

const SOURCE = 'fromChatCompletion';

/**
 * Streams one chat completion from an OpenAI-compatible `/chat/completions`
 * endpoint. Cold: each subscription makes exactly one `POST`, and
 * unsubscribing aborts it. Emits every SSE `data:` payload parsed as a
 * `ChatCompletionChunk`, then `DONE` for `data: [DONE]`, and completes when
 * the response body ends (pipe `untilDone()` to tell a finished answer from a
 * cut one).
 *
 * ```text
 * server:  --c1---c2--c3---[DONE]--(end)
 * result:  --c1---c2--c3---D-------|
 * ```
 *
 * Errors: `HttpError` (non-2xx), `NetworkError`, `IdleTimeoutError`,
 * `ApiError` (an error object in the stream), `ParseError` (a payload that
 * is not JSON). Bad options throw `TypeError`/`RangeError` right here,
 * before any request.
 *
 * @example
 * ```ts
 * fromChatCompletion({
 *   apiKey: process.env.OPENAI_API_KEY,
 *   body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] },
 * }).pipe(untilDone(), accumulateContent(), retryWithBackoff())
 *   .subscribe((snapshot) => render(snapshot.content));
 * ```
 */
export function fromChatCompletion<Extra extends object = Record<never, never>>(options: ChatCompletionOptions<NotInferred<Extra>>): Observable<ChatCompletionEvent> {
  assertObject(`${SOURCE}: options`, options);
  const body = assertObject<ChatCompletionRequest>(`${SOURCE}: options.body`, options.body);
  const url =
    options.url !== undefined
      ? assertHttpUrl(`${SOURCE}: options.url`, options.url)
      : joinBaseUrl(`${SOURCE}: options.baseURL`, options.baseURL ?? DEFAULT_BASE_URL, 'chat/completions');
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'text/event-stream' };
  const apiKey = assertApiKey(SOURCE, options.apiKey, 'leave it out for servers that need no key');
  const secrets = apiKey === undefined ? [] : [apiKey];
  if (apiKey !== undefined) headers.Authorization = `Bearer ${apiKey}`;
  const request = prepareStreamRequest(SOURCE, options, {
    url,
    body: JSON.stringify({ ...body, stream: true }),
    headers,
    secrets,
  });
  const continuation = assertContinuation(SOURCE, options.continuation, ['vllm', 'deepseek'], body);
  if (continuation === undefined) return chatCompletionEvents(request);
  return continuable((partial) => {
    const continued = partial === undefined ? request : { ...request, body: JSON.stringify(continuedBody(body, partial, continuation)) };
    return chatCompletionEvents(continued);
  }, false);
}

/** The request's events as chunks and `DONE`, the first chunk of each subscription marked fresh. */
function chatCompletionEvents(request: StreamRequest): Observable<ChatCompletionEvent> {
  return defer(() => {
    const markFresh = freshMarker<ChatCompletionEvent | typeof SKIP>();
    return serverSentEvents(request, (message) => markFresh(chatCompletionEvent(message, request.secrets)));
  });
}

/** The request asking the server to continue `partial` as the final assistant message. */
function continuedBody(body: ChatCompletionRequest, partial: string, continuation: ChatContinuation): Record<string, unknown> {
  const messages = [...(body.messages ?? [])];
  if (continuation === 'deepseek') return { ...body, messages: [...messages, { role: 'assistant', content: partial, prefix: true }], stream: true };
  return { ...body, messages: [...messages, { role: 'assistant', content: partial }], continue_final_message: true, add_generation_prompt: false, stream: true };
}

function chatCompletionEvent(message: EventSourceMessage, secrets: readonly string[]): ChatCompletionEvent | typeof SKIP {
  const { data } = message;
  if (data === '[DONE]') return DONE;
  if (data === '') return SKIP;
  const json = parsePayload(data, secrets, SOURCE);
  const errorObject = findErrorObject(json);
  if (errorObject) throw toApiError(errorObject, secrets);
  payloadObject(json, data, secrets, SOURCE, 'a chunk object');
  return json as ChatCompletionChunk;
}
