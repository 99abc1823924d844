import { EMPTY, Observable, concatWith, defer, mergeMap, of } from 'rxjs';
import { geminiChunk, newGeminiState } from '../providers/geminiChunks.js';
import { serverSentEvents } from '../transport/serverSentEvents.js';
import { markFirstFresh } from '../transport/index.js';
import { prepareStreamRequest, type TransportOptions } from '../transport/streamRequest.js';
import { assertApiKey, assertHttpUrl, assertObject, joinBaseUrl } from '../internal/validate.js';
import { DONE, type ChatCompletionEvent } from '../types.js';
import type { GeminiContentRequest } from '../requests/geminiRequest.js';
import type { NotInferred, WithExtensions } from '../requests/extensions.js';

export type { GeminiContentRequest };

/** Options of `fromGeminiContent`. */
export interface GeminiContentOptions<Extra extends object = Record<never, never>> extends TransportOptions {
  /** The model, e.g. `gemini-2.5-flash` (a leading `models/` is accepted). Required unless `url` is given. */
  model?: string | undefined;
  /** Default: `https://generativelanguage.googleapis.com/v1beta`; the request goes to `{baseURL}/models/{model}:streamGenerateContent?alt=sse`. */
  baseURL?: string | undefined;
  /** The full endpoint URL, overriding `baseURL` and `model` (Vertex AI, proxies); keep `alt=sse` in it. */
  url?: string | undefined;
  /** Sent as `x-goog-api-key`; omit it when a proxy adds the credentials. */
  apiKey?: string | undefined;
  /** The native request: `contents`, `systemInstruction`, `tools`, `generationConfig`, ... */
  body: WithExtensions<GeminiContentRequest, Extra>;
}

/**
 * The `baseURL` `fromGeminiContent` uses when none is given: the Gemini API (v1beta).
 *
 * @example
 * ```ts
 * const baseURL = process.env['GEMINI_BASE_URL'] ?? DEFAULT_GEMINI_BASE_URL; // a proxy's URL, or Google's
 * fromGeminiContent({ baseURL, apiKey, model: 'gemini-2.5-flash', body }).pipe(untilDone(), accumulateContent());
 * ```
 */
export const DEFAULT_GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com/v1beta';

const SOURCE = 'fromGeminiContent';

/**
 * Streams one answer from Gemini's `streamGenerateContent` (SSE), normalized
 * to the same `ChatCompletionChunk | DONE` events as `fromChatCompletion`.
 * Gemini sends no end marker: the source emits `DONE` when the body ends
 * after every candidate has had its `finishReason`, and nothing extra when it
 * ends without one, so `untilDone` reports the cut. Cold: one `POST` per
 * subscription; unsubscribing aborts it.
 *
 * ```text
 * server:  {text:"The"}--{text:" sky", finishReason:STOP}--(end)
 * result:  --c("The")----c(" sky", finish: stop)-----------D|
 * server:  {text:"The"}--(end)
 * result:  --c("The")----|          (untilDone: StreamInterruptedError)
 * ```
 *
 * Mapping: text parts → `delta.content`; parts with `thought: true` →
 * `delta.reasoning_content`; `functionCall` parts → whole tool calls
 * (`arguments` is `JSON.stringify(args)`; the id is Gemini's, or
 * `{responseId}-call-{k}`); `finishReason` → `finish_reason` (`STOP` →
 * `stop`, or `tool_calls` after a function call; `MAX_TOKENS` → `length`;
 * `SAFETY`, `RECITATION`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`,
 * `IMAGE_SAFETY` → `content_filter`; others lower-cased); `usageMetadata` →
 * usage (thoughts count as completion tokens); `responseId` → `id` (kept
 * for the whole answer; made up per subscription when Gemini sends none). A
 * blocked prompt (`promptFeedback.blockReason`) errors with a non-retryable
 * `ApiError` of type `prompt_blocked`; an `{"error": ...}` chunk with an
 * `ApiError` (retryable for `RESOURCE_EXHAUSTED`, `UNAVAILABLE`, `INTERNAL`).
 *
 * @example
 * ```ts
 * fromGeminiContent({
 *   apiKey: process.env.GEMINI_API_KEY,
 *   model: 'gemini-2.5-flash',
 *   body: { contents: [{ role: 'user', parts: [{ text: 'Hello' }] }] },
 * }).pipe(untilDone(), accumulateContent(), retryWithBackoff())
 *   .subscribe((snapshot) => render(snapshot.content));
 * ```
 */
export function fromGeminiContent<Extra extends object = Record<never, never>>(options: GeminiContentOptions<NotInferred<Extra>>): Observable<ChatCompletionEvent> {
  assertObject(`${SOURCE}: options`, options);
  const body = assertObject<GeminiContentRequest>(`${SOURCE}: options.body`, options.body);
  const url = options.url !== undefined ? assertHttpUrl(`${SOURCE}: options.url`, options.url) : modelUrl(options);
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'text/event-stream' };
  const apiKey = assertApiKey(SOURCE, options.apiKey, 'leave it out when a proxy adds the credentials');
  const secrets = apiKey === undefined ? [] : [apiKey];
  if (apiKey !== undefined) headers['x-goog-api-key'] = apiKey;
  const request = prepareStreamRequest(SOURCE, options, { url, body: JSON.stringify(body), headers, secrets });
  return defer(() => {
    const state = newGeminiState();
    return serverSentEvents(request).pipe(
      mergeMap((message) => geminiChunk(message, state, request.secrets, SOURCE)),
      concatWith(defer(() => (state.finished ? of(DONE) : EMPTY))),
      markFirstFresh(),
    );
  });
}

function modelUrl(options: GeminiContentOptions): string {
  const { model } = options;
  if (typeof model !== 'string' || model.trim() === '') {
    throw new TypeError(`${SOURCE}: options.model must be a model name such as 'gemini-2.5-flash' (or pass options.url).`);
  }
  const name = model.trim().replace(/^models\//, '');
  return joinBaseUrl(`${SOURCE}: options.baseURL`, options.baseURL ?? DEFAULT_GEMINI_BASE_URL, `models/${encodeURIComponent(name)}:streamGenerateContent`, { alt: 'sse' });
}
