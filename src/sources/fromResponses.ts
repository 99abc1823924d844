import { EMPTY, Observable, asyncScheduler, catchError, concat, defer, finalize, map, mergeMap, takeWhile, tap, throwError } from 'rxjs';
import { HttpError, isRetryable, OrphanedResponseError } from '../errors.js';
import { isResponseId, newResponsesFold, responsesEvents, type ResponsesFold } from '../providers/responsesChunks.js';
import { chainState } from '../internal/retryChain.js';
import { serverSentEvents, type EventSourceMessage, type SeenResponse } from '../transport/serverSentEvents.js';
import { prepareStreamRequest, type FetchLike, type StreamRequest, type TransportOptions } from '../transport/streamRequest.js';
import { assertApiKey, assertFunction, assertHeaders, assertHttpUrl, assertObject, joinBaseUrl } from '../internal/validate.js';
import { markStreamStart } from '../streamStart.js';
import { DONE, type ChatCompletionEvent } from '../types.js';
import { DEFAULT_BASE_URL } from './fromChatCompletion.js';
import type { ResponsesRequest } from '../requests/responsesRequest.js';
import type { NotInferred, WithExtensions } from '../requests/extensions.js';

export type { ResponsesRequest };

/** Where to pick up a background response that an earlier page or process started. */
export interface ResponsesResumePoint {
  /** The response id (`resp_...`), as `onResponseId` reported it. */
  id: string;
  /**
   * The last `sequence_number` already shown. Leave it out to replay the
   * response from its start (the fold starts from empty); with it, only the
   * events after it come, and the first chunk is marked `resumed: true`.
   */
  after?: number | undefined;
}

/** Options of `fromResponses`. */
export interface ResponsesOptions<Extra extends object = Record<never, never>> extends TransportOptions {
  /** Default: `https://api.openai.com/v1`; requests go to `{baseURL}/responses` and `{baseURL}/responses/{id}...`. */
  baseURL?: string | undefined;
  /** The full `/responses` endpoint URL, overriding `baseURL`; resume and cancel URLs are built on it (its query kept). */
  url?: string | undefined;
  /** Sent as `Authorization: Bearer {apiKey}`; omit it for servers that need none. */
  apiKey?: string | undefined;
  /** The request: `model`, `input`, `instructions`, `tools`, `reasoning`, `background`, `store`, ... */
  body: WithExtensions<ResponsesRequest, Extra>;
  /**
   * When the retry chain of a background response ends before its answer
   * did (the consumer unsubscribed at any moment, a retry wait included, or
   * the last retry failed), `POST /responses/{id}/cancel` is sent, so nobody
   * pays for an answer nobody will read; a retry after an error is not an
   * end. `false` leaves it running, to resume later with `resumeFrom`.
   * Default: `true`.
   */
  cancelOnUnsubscribe?: boolean | undefined;
  /** Called once per response when its id is known (at `response.created`): keep it to resume after a page reload. */
  onResponseId?: ((id: string) => void) | undefined;
  /** The first subscription resumes this background response with a `GET` instead of a new `POST`. */
  resumeFrom?: ResponsesResumePoint | undefined;
}

const SOURCE = 'fromResponses';

/** Statuses of a resume `GET` that mean "cannot resume" (expired, not a background response, too old): start afresh. */
const CANNOT_RESUME = new Set([400, 404, 410]);

/** One response as the source follows it across subscriptions. */
interface Progress {
  fold: ResponsesFold;
  /** Identifies the response in `markStreamStart`: the same object for every subscription that continues it. */
  token: object;
}

/** One connection: where it goes and what the fold makes of it. */
interface Call {
  url: string;
  method: 'GET' | 'POST';
  progress: Progress;
  resumed: boolean;
  skipThrough?: number;
  /** A 2xx answer arrived: the server took the request (a `POST` created a response). */
  accepted?: boolean;
}

/**
 * Streams one answer from the OpenAI Responses API (`POST {baseURL}/responses`),
 * normalized to the same `ChatCompletionChunk | DONE` events as
 * `fromChatCompletion`, so `untilDone`, `accumulateContent`,
 * `retryWithBackoff` and `withStreamStatus` work unchanged. It completes at
 * the terminal event (a trailing `[DONE]` is accepted, never required).
 *
 * ```text
 * server:  created  output_text.delta "Hi"  output_text.done  completed
 * result:  c(role)--c("Hi")------------------------------------c(stop, usage)D|
 * ```
 *
 * With `body.background: true` (and `store: true`) a stream that breaks off
 * is resumed by the next subscription (`retryWithBackoff` subscribing again)
 * with `GET {baseURL}/responses/{id}?stream=true&starting_after={last sequence_number}`:
 * nothing is generated twice and the first chunk is marked `resumed: true`
 * (see `markStreamStart`), so `accumulateContent` continues the snapshot. A
 * resume answered 400, 404 or 410 falls back to a fresh `POST`, marked
 * `resumed: false`. The resume point belongs to the retry chain of
 * `retryWithBackoff` (its successive subscriptions for one subscriber), not
 * to the observable: another subscription, in parallel or later, `POST`s a
 * response of its own. When the chain ends before the answer did
 * (unsubscribed at any moment, during a retry wait too, or out of retries),
 * the background response is cancelled (`POST /responses/{id}/cancel`)
 * unless `cancelOnUnsubscribe: false`.
 *
 * Errors: `HttpError`, `NetworkError`, `IdleTimeoutError`, `ParseError` as
 * for `fromChatCompletion`; `ApiError` for an `error` event or
 * `response.failed` (retryable when the provider names a server error or an
 * overload). Bad options throw `TypeError`/`RangeError` right here.
 *
 * @example
 * ```ts
 * fromResponses({
 *   apiKey: process.env.OPENAI_API_KEY,
 *   body: { model: 'gpt-5-mini', input: 'Hello', background: true, store: true },
 *   onResponseId: (id) => sessionStorage.setItem('answer', id),
 * }).pipe(untilDone(), accumulateContent(), retryWithBackoff())
 *   .subscribe((snapshot) => render(snapshot.content));
 * ```
 */
export function fromResponses<Extra extends object = Record<never, never>>(options: ResponsesOptions<NotInferred<Extra>>): Observable<ChatCompletionEvent> {
  assertObject(`${SOURCE}: options`, options);
  const body = assertObject<ResponsesRequest>(`${SOURCE}: options.body`, options.body);
  const endpoint =
    options.url !== undefined
      ? assertHttpUrl(`${SOURCE}: options.url`, options.url)
      : joinBaseUrl(`${SOURCE}: options.baseURL`, options.baseURL ?? DEFAULT_BASE_URL, 'responses');
  const cancelOnUnsubscribe = options.cancelOnUnsubscribe ?? true;
  if (typeof cancelOnUnsubscribe !== 'boolean') throw new TypeError(`${SOURCE}: options.cancelOnUnsubscribe must be a boolean.`);
  const onResponseId = options.onResponseId === undefined ? undefined : assertFunction<(id: string) => void>(`${SOURCE}: options.onResponseId`, options.onResponseId);
  const resumeFrom = options.resumeFrom === undefined ? undefined : assertResumePoint(options.resumeFrom);
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'text/event-stream' };
  const apiKey = assertApiKey(SOURCE, options.apiKey, 'leave it out for servers that need no key');
  const secrets = apiKey === undefined ? [] : [apiKey];
  if (apiKey !== undefined) headers.Authorization = `Bearer ${apiKey}`;
  const request = prepareStreamRequest(SOURCE, options, { url: endpoint, body: JSON.stringify({ ...body, stream: true }), headers, secrets });
  const background = body.background === true || resumeFrom !== undefined;

  // The key of this source's state in each retry chain (see internal/retryChain): cold, resumable.
  const key = {};
  const startingPoint = (): Progress | undefined =>
    resumeFrom && {
      fold: { ...newResponsesFold(), id: resumeFrom.id, cursor: resumeFrom.after, partial: resumeFrom.after !== undefined },
      token: {},
    };
  /** The chain ended (last unsubscribe, final error, completion): a background response nobody will read again is cancelled. */
  const endChain = (chain: ResponseChain) => {
    const progress = chain.saved ?? chain.current?.progress;
    if (!background || !cancelOnUnsubscribe || progress === undefined) return;
    const { fold } = progress;
    if (!fold.terminal && fold.id !== '') cancelResponse(request, endpoint, fold.id);
  };

  const fresh = (): Call => ({ url: endpoint, method: 'POST', progress: { fold: newResponsesFold(), token: {} }, resumed: false });
  const resume = (progress: Progress): Call => {
    const { id, cursor } = progress.fold;
    if (cursor === undefined) {
      // No cursor: replay the stored response from its start, without generating it again; the fold starts over.
      return { url: responseUrl(endpoint, [id], { stream: 'true' }), method: 'GET', progress: { fold: { ...newResponsesFold(), id }, token: {} }, resumed: false };
    }
    const url = responseUrl(endpoint, [id], { stream: 'true', starting_after: String(cursor) });
    return { url, method: 'GET', progress, resumed: true, skipThrough: cursor };
  };

  const events = (call: Call, chain: ResponseChain): Observable<ChatCompletionEvent> => {
    const { progress } = call;
    const context = { source: SOURCE, secrets: request.secrets, skipThrough: call.skipThrough, strictIds: background };
    let first = true;
    return openEventStream(request, call, { onResponse: () => (call.accepted = true) }).pipe(
      mergeMap((message) => {
        const produced = responsesEvents(message, progress.fold, context);
        if (onResponseId && isResponseId(progress.fold.id) && progress.fold.id !== chain.reported) {
          chain.reported = progress.fold.id;
          onResponseId(chain.reported);
        }
        return produced;
      }),
      map((event) => {
        if (!first || event === DONE) return event;
        first = false;
        return markStreamStart(event, { resumed: call.resumed, stream: progress.token });
      }),
      takeWhile((event) => event !== DONE, true),
    );
  };

  return defer(() => {
    const { state: chain, chain: shared } = chainState<ResponseChain>(key, () => ({ saved: startingPoint(), current: undefined, reported: '' }), endChain);
    const taken = chain.saved;
    chain.saved = undefined;
    let call = taken ? resume(taken) : fresh();
    chain.current = call;
    const attempt = events(call, chain).pipe(
      catchError((error: unknown) => {
        if (call.method !== 'GET' || !(error instanceof HttpError) || !CANNOT_RESUME.has(error.status)) return throwError(() => error);
        call = fresh();
        chain.current = call;
        return events(call, chain);
      }),
    );
    // What this subscription leaves for the next one of its chain (retryWithBackoff subscribing again) to resume.
    const leftForNextSubscription = () => {
      const { fold } = call.progress;
      if (background && !fold.terminal && fold.id !== '') chain.saved = call.progress;
    };
    const streamed = attempt.pipe(
      // Accepted but never named: not left for a retry to POST a second answer.
      catchError((error: unknown) => throwError(() => (isRetryable(error) && orphaned(call, background) ? orphanError(error) : error))),
      (events$) => concat(events$, defer(() => (orphaned(call, background) ? throwError(() => orphanError()) : EMPTY))),
      tap({ error: leftForNextSubscription, complete: leftForNextSubscription }),
    );
    // Without a chain, this subscription is its own chain: it ends with it.
    return shared ? streamed : streamed.pipe(finalize(() => endChain(chain)));
  });
}

/** What one retry chain of a `fromResponses` source carries from one subscription to the next. */
interface ResponseChain {
  /** The response a subscription that broke off left for the next one to resume. */
  saved: Progress | undefined;
  /** The connection of the latest subscription: what to cancel if the chain ends while it runs. */
  current: Call | undefined;
  /** The id last given to `onResponseId`. */
  reported: string;
}

/**
 * The one place that talks to the SSE transport: the events of one
 * connection (a `POST` that starts a response or a `GET` that resumes one).
 */
function openEventStream(request: StreamRequest, call: Pick<Call, 'url' | 'method'>, seen: SeenResponse): Observable<EventSourceMessage> {
  if (call.method === 'POST') return serverSentEvents({ ...request, url: call.url, method: 'POST' }, undefined, seen);
  const headers = { ...request.headers };
  delete headers['Content-Type'];
  return serverSentEvents({ ...request, url: call.url, method: 'GET', body: '', headers }, undefined, seen);
}

/**
 * Whether `call` started a background response that nobody can name: its
 * `POST` was accepted, but the stream ended or broke before `response.created`
 * gave the id. OpenAI's API has no idempotency key and no listing of
 * responses, so it can be neither found, resumed nor cancelled.
 */
function orphaned(call: Call, background: boolean): boolean {
  return background && call.method === 'POST' && call.accepted === true && call.progress.fold.id === '' && !call.progress.fold.terminal;
}

function orphanError(cause?: unknown): OrphanedResponseError {
  return new OrphanedResponseError(
    `${SOURCE}: the server accepted a background response, but its stream ${cause === undefined ? 'ended' : 'broke off'} before response.created gave its id. ` +
      'The response may still be running (and billed) at the provider; without its id it can be neither resumed nor cancelled, ' +
      'so it was not requested again (that would generate a second answer). Subscribe again to ask for a new one.',
    cause === undefined ? undefined : { cause },
  );
}

/** How long a cancel `POST` may take before it is aborted, in ms. */
export const CANCEL_TIMEOUT_MS = 5_000;

/**
 * `POST {endpoint}/{id}/cancel`, fire and forget (the consumer has gone, and a
 * failed cancel has no one to tell), aborted after `CANCEL_TIMEOUT_MS` on
 * the source's scheduler: an endpoint that never answers leaves no hanging
 * request (nor a process that cannot exit).
 */
function cancelResponse(request: StreamRequest, endpoint: string, id: string): void {
  const controller = new AbortController();
  const timer = (request.scheduler ?? asyncScheduler).schedule(() => controller.abort(), CANCEL_TIMEOUT_MS);
  const send = async () => {
    const extra = typeof request.extraHeaders === 'function' ? assertHeaders(`${SOURCE}: the headers function's result`, await request.extraHeaders()) : request.extraHeaders;
    const headers: Record<string, string> = { ...request.headers, ...extra };
    delete headers['Content-Type'];
    // Looked up now, like the stream's own fetch, so a fetch patched later is used.
    const fetch = request.fetch ?? (globalThis.fetch as FetchLike);
    const response = await fetch(responseUrl(endpoint, [id, 'cancel'], {}), { method: 'POST', headers, redirect: 'error', signal: controller.signal });
    await response.body?.cancel();
  };
  send()
    .catch(() => undefined)
    .finally(() => timer.unsubscribe());
}

/** `{endpoint}/{segments...}?{query}`, the endpoint's own query kept, each segment encoded. */
function responseUrl(endpoint: string, segments: string[], query: Record<string, string>): string {
  const url = new URL(endpoint);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${segments.map(encodeURIComponent).join('/')}`;
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url.href;
}

function assertResumePoint(value: unknown): { id: string; after?: number } {
  const point = assertObject<ResponsesResumePoint>(`${SOURCE}: options.resumeFrom`, value);
  if (!isResponseId(point.id)) {
    throw new TypeError(`${SOURCE}: options.resumeFrom.id must be the response id as onResponseId reported it (resp_…: only A-Z a-z 0-9 _ - + =, at most 512).`);
  }
  const { after } = point;
  if (after !== undefined && (typeof after !== 'number' || !Number.isInteger(after) || after < 0)) {
    throw new RangeError(`${SOURCE}: options.resumeFrom.after must be a sequence_number, an integer 0 or more.`);
  }
  return { id: point.id, after };
}
