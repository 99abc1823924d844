import { createNoopMeter, metrics, SpanKind, trace, type Meter, type Span, type Tracer } from '@opentelemetry/api';
import { defer, Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { retryWithBackoff, type RetryWithBackoffOptions } from '../operators/retryWithBackoff.js';
import { assertFunction, assertObject } from '../internal/validate.js';
import { isTelemetryApi, requestAttributes, requestContent, type TelemetryApi, type TelemetryRequest } from './answerRequest.js';
import { answerInstruments, startAnswer } from './answerRecorder.js';
import { SCOPE } from './conventions.js';

/** Options of `withTelemetry`. */
export interface WithTelemetryOptions {
  /** Which API the source speaks: names the operation and provider after the GenAI conventions. */
  api: TelemetryApi;
  /**
   * The source's options (or `{ baseURL, url, model, body }`): gives
   * `gen_ai.request.model` and `server.address`/`server.port`. Only
   * `baseURL`, `url`, `model` and `body` are read; `apiKey` and `headers`
   * never are. Default: `{}` (the API's default host, no model).
   */
  request?: TelemetryRequest | undefined;
  /**
   * `gen_ai.provider.name` when it is not the API's maker (an OpenAI-compatible
   * host: `'deepseek'`, `'groq'`, `'mistral_ai'`, `'x_ai'`, ...). Default: by `api`
   * (`openai`, `anthropic`, `gcp.gemini`).
   */
  provider?: string | undefined;
  /**
   * Retries, as `retryWithBackoff`'s options, applied inside the span (so each
   * retry is an event of the one span), or `false` for none. Default: `{}`
   * (`retryWithBackoff`'s defaults). Put `withTelemetry` in place of
   * `retryWithBackoff`.
   */
  retry?: RetryWithBackoffOptions | false | undefined;
  /**
   * Records the prompt (`gen_ai.input.messages`, from `request.body`) and the
   * answer's text (`gen_ai.output.messages`). Prompts and answers may hold
   * personal data: off unless you opt in. Default: `false`.
   */
  recordContent?: boolean | undefined;
  /** Default: `trace.getTracer('rxjs-llm-stream')` (the global provider; a no-op without an SDK). */
  tracer?: Tracer | undefined;
  /** Default: `metrics.getMeter('rxjs-llm-stream')` (the global provider; a no-op without an SDK). */
  meter?: Meter | undefined;
  /** Called with each answer's span right after it starts: add attributes, or link it (`relayTelemetry().linkAnswer`). */
  onSpanStart?: ((span: Span) => void) | undefined;
  /**
   * The clock for durations, in milliseconds: read at the start, on each
   * value (on the first of each attempt only, when no meter provider records)
   * and at the end. Default: `performance.now()` (monotonic, and finer than a
   * millisecond: chunks of one network read come microseconds apart).
   */
  now?: (() => number) | undefined;
}

const NAME = 'withTelemetry';
/** The API's no-op meter: what `metrics.getMeter` gives while no meter provider is registered. */
const NOOP_METER = createNoopMeter();
/** `performance.now`, called on `performance` (some runtimes refuse it unbound). */
const monotonicNow = () => performance.now();

/**
 * Records one OpenTelemetry span per answer, named and attributed after the
 * GenAI semantic conventions (`chat gpt-4o`: operation, provider, request and
 * response model, response id, finish reasons, token usage, server address,
 * `error.type`), with an event for each retry (error type, delay, attempt),
 * restart and resume (what was kept or dropped), idle timeout and deadline;
 * and the GenAI client metrics: operation duration, token usage, time to
 * first chunk and time per output chunk. It retries with `retryWithBackoff`
 * inside the span: put it in place of `retryWithBackoff`.
 *
 * ```text
 * attempts:  -a-#              then  -b*-c-|      (* marked { resumed: true })
 * values:    -a----------------------b--c-|       (unchanged)
 * span:      [chat m ..... event retry ... event resume ... ] ok, 3 chunks
 * ```
 *
 * Restarts and resumes are read from the source's mark (`streamStartOf`) on
 * the first value of each attempt: put `withTelemetry` on the chunks (before
 * `accumulateContent`) to see them; after it, a fold's snapshots carry no
 * mark, and the span still has everything else. It reads chunks and
 * snapshots alike. Nothing is recorded of prompts and answers unless
 * `recordContent` is set, and nothing of keys or headers ever.
 *
 * Without an OpenTelemetry SDK registered (a non-recording span and the API's
 * no-op meter), the values go straight through, with the retries: nothing is
 * done per value. The providers are looked up per answer.
 *
 * @example
 * ```ts
 * const request = { apiKey, body: { model: 'gpt-4o-mini', messages } };
 * fromChatCompletion(request).pipe(
 *   untilDone(),
 *   withTelemetry({ api: 'chat.completions', request, retry: { maxRetries: 3 } }),
 *   accumulateContent(),
 * );
 * ```
 */
export function withTelemetry<T>(options: WithTelemetryOptions): MonoTypeOperatorFunction<T> {
  assertObject(`${NAME}: options`, options);
  const { api, request = {}, provider, retry = {}, recordContent = false, onSpanStart, now = monotonicNow } = options;
  if (!isTelemetryApi(api)) {
    throw new TypeError(`${NAME}: api must be 'chat.completions', 'responses', 'anthropic.messages' or 'gemini'.`);
  }
  assertObject(`${NAME}: request`, request);
  if (provider !== undefined && (typeof provider !== 'string' || provider === '')) throw new TypeError(`${NAME}: provider must be a non-empty string.`);
  if (typeof recordContent !== 'boolean') throw new TypeError(`${NAME}: recordContent must be a boolean.`);
  if (onSpanStart !== undefined) assertFunction(`${NAME}: onSpanStart`, onSpanStart);
  assertFunction(`${NAME}: now`, now);
  if (retry !== false) {
    assertObject(`${NAME}: retry`, retry);
    retryWithBackoff(retry); // checks the retry options now, with retryWithBackoff's own errors
  }
  const { name, attributes } = requestAttributes(api, request, provider);
  const retried = (source: Observable<T>) => (retry === false ? source : source.pipe(retryWithBackoff<T>(retry)));
  const inputMessages = recordContent ? requestContent(api, request) : undefined;

  // A linked subscriber rather than `tap`: one call chain fewer per chunk (see `subscribeLinked`).
  return (source) =>
    new Observable<T>((subscriber) => {
      // The providers are looked up per answer: an SDK registered after the pipeline was built counts.
      const tracer = options.tracer ?? trace.getTracer(SCOPE);
      const meter = options.meter ?? metrics.getMeter(SCOPE);
      const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes });
      onSpanStart?.(span);
      if (!span.isRecording() && meter === NOOP_METER) {
        // No SDK (or a sampler that dropped the span, and no meter provider): nothing would be
        // recorded, so the values go straight through, with the retries.
        span.end();
        return retried(source).subscribe(subscriber);
      }
      const answer = startAnswer({ span, instruments: answerInstruments(meter), attributes, inputMessages, recordContent, now });
      const attempt = defer(() => {
        answer.attemptStarted();
        return source;
      });
      const attempts =
        retry === false
          ? attempt
          : attempt.pipe(
              retryWithBackoff<T>({
                ...retry,
                onRetry: (event) => {
                  answer.retried(event);
                  retry.onRetry?.(event);
                },
              }),
            );
      let ended = false;
      const subscription = attempts.subscribe({
        next: (value: T) => {
          answer.value(value);
          subscriber.next(value);
        },
        error: (error: unknown) => {
          ended = true;
          answer.failed(error);
          subscriber.error(error);
        },
        complete: () => {
          ended = true;
          answer.completed();
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        if (!ended) answer.cancelled();
      };
    });
}
