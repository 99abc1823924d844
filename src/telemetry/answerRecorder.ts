import { createNoopMeter, SpanStatusCode, type Attributes, type Histogram, type Meter, type Span } from '@opentelemetry/api';
import { streamStartOf } from '../streamStart.js';
import type { RetryEvent } from '../operators/retryWithBackoff.js';
import { ATTR, EVENT, METRIC, OWN_ATTR, VALUE } from './conventions.js';

/** The four GenAI client histograms of one meter. */
export interface AnswerInstruments {
  duration: Histogram;
  tokens: Histogram;
  firstChunk: Histogram;
  perChunk: Histogram;
}

const instrumentsByMeter = new WeakMap<Meter, AnswerInstruments>();

/** The API's no-op histogram (every no-op meter hands out this one): with it, nothing is timed per chunk. */
const NOOP_HISTOGRAM = createNoopMeter().createHistogram('rxjs_llm_stream.noop');

/** Bucket boundaries the conventions advise, in seconds and tokens. */
const SECONDS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const CHUNK_SECONDS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5];
const TOKENS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

/** The instruments, made once per meter. */
export function answerInstruments(meter: Meter): AnswerInstruments {
  let instruments = instrumentsByMeter.get(meter);
  if (instruments === undefined) {
    const seconds = (name: string, description: string, boundaries: number[]) =>
      meter.createHistogram(name, { unit: 's', description, advice: { explicitBucketBoundaries: boundaries } });
    instruments = {
      duration: seconds(METRIC.operationDuration, 'GenAI operation duration.', SECONDS),
      tokens: meter.createHistogram(METRIC.tokenUsage, { unit: '{token}', description: 'Number of input and output tokens used.', advice: { explicitBucketBoundaries: TOKENS } }),
      firstChunk: seconds(METRIC.timeToFirstChunk, 'Time to receive the first chunk of the answer.', SECONDS),
      perChunk: seconds(METRIC.timePerOutputChunk, 'Time between two chunks of the answer.', CHUNK_SECONDS),
    };
    instrumentsByMeter.set(meter, instruments);
  }
  return instruments;
}

/** What one answer's recorder needs. */
export interface AnswerSetup {
  /** The answer's span, started (with `attributes`) and handed to `onSpanStart` by the caller. */
  span: Span;
  instruments: AnswerInstruments;
  attributes: Attributes;
  /** The prompt as JSON, only when content is recorded. */
  inputMessages: string | undefined;
  recordContent: boolean;
  now: () => number;
}

/** The callbacks through which `withTelemetry` tells one answer's recorder what happened. */
export interface AnswerRecorder {
  attemptStarted(): void;
  value(value: unknown): void;
  retried(event: RetryEvent): void;
  failed(error: unknown): void;
  completed(): void;
  cancelled(): void;
}

/**
 * Starts the span of one answer and returns what records into it. Per value
 * it reads the first value's mark, the ids, model, finish reasons and usage a
 * chunk or snapshot carries, and records the time since the last value
 * (`time_per_output_chunk`): a few property reads, one clock read and one
 * histogram record with an attributes object made once per answer.
 */
export function startAnswer(setup: AnswerSetup): AnswerRecorder {
  const { span, instruments, now } = setup;
  if (setup.inputMessages !== undefined) span.setAttribute(ATTR.inputMessages, setup.inputMessages);
  const metricAttributes: Attributes = {};
  for (const key of [ATTR.operationName, ATTR.providerName, ATTR.requestModel, ATTR.serverAddress, ATTR.serverPort]) {
    if (setup.attributes[key] !== undefined) metricAttributes[key] = setup.attributes[key];
  }
  const started = now();
  // Traces without metrics (no meter provider): the clock is read per answer and attempt only.
  const timesChunks = instruments.perChunk !== NOOP_HISTOGRAM;
  let attempts = 0;
  let retries = 0;
  let firstOfAttempt = false;
  let values = 0;
  let firstChunkSeen = false;
  let lastValueAt = 0;
  let responseId: string | undefined;
  let responseModel: string | undefined;
  const finishReasons: (string | undefined)[] = [];
  let usage: { input?: number; output?: number; cacheRead?: number } | undefined;
  let text = '';
  let ended = false;

  const timeoutEvent = (error: unknown) => {
    const name = (error as { name?: unknown } | null)?.name;
    const event = name === 'IdleTimeoutError' ? EVENT.idleTimeout : name === 'DeadlineExceededError' ? EVENT.deadline : undefined;
    if (event === undefined) return;
    const timeoutMs = (error as { timeoutMs?: unknown }).timeoutMs;
    span.addEvent(event, typeof timeoutMs === 'number' ? { [OWN_ATTR.timeoutMs]: timeoutMs } : {});
  };

  const finish = (error: unknown, outcome: 'ok' | 'error' | 'cancelled') => {
    if (ended) return;
    ended = true;
    const end = now();
    const attributes: Attributes = { ...metricAttributes };
    if (responseModel !== undefined) {
      attributes[ATTR.responseModel] = responseModel;
      span.setAttribute(ATTR.responseModel, responseModel);
    }
    if (responseId !== undefined) span.setAttribute(ATTR.responseId, responseId);
    const reasons = finishReasons.filter((reason): reason is string => reason !== undefined);
    if (reasons.length > 0) span.setAttribute(ATTR.responseFinishReasons, reasons);
    if (usage?.input !== undefined) span.setAttribute(ATTR.usageInputTokens, usage.input);
    if (usage?.output !== undefined) span.setAttribute(ATTR.usageOutputTokens, usage.output);
    if (usage?.cacheRead !== undefined) span.setAttribute(ATTR.usageCacheReadInputTokens, usage.cacheRead);
    if (setup.recordContent && values > 0) {
      const parts = text === '' ? [] : [{ type: 'text', content: text }];
      span.setAttribute(ATTR.outputMessages, JSON.stringify([{ role: 'assistant', parts, finish_reason: reasons[0] ?? '' }]));
    }
    span.setAttribute(OWN_ATTR.retries, retries);
    if (outcome === 'error') {
      const type = errorType(error);
      attributes[ATTR.errorType] = type;
      span.setAttribute(ATTR.errorType, type);
      timeoutEvent(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: type });
    } else if (outcome === 'cancelled') {
      span.addEvent(EVENT.cancelled);
    }
    instruments.duration.record(Math.max(0, end - started) / 1000, attributes); // never negative, if the wall clock is set back
    if (usage?.input !== undefined) instruments.tokens.record(usage.input, { ...attributes, [ATTR.tokenType]: VALUE.input });
    if (usage?.output !== undefined) instruments.tokens.record(usage.output, { ...attributes, [ATTR.tokenType]: VALUE.output });
    span.end();
  };

  return {
    attemptStarted() {
      attempts++;
      firstOfAttempt = true;
    },
    value(value) {
      // The conventions' time_per_output_chunk: one record for each chunk after the first, from the end of the
      // previous one (chunks of one network read included, at about 0 s). One attributes object for every
      // record, built once per answer: nothing is allocated here per chunk.
      if (firstOfAttempt) firstOfThisAttempt(value, now());
      else if (timesChunks) {
        const at = now();
        instruments.perChunk.record(at > lastValueAt ? (at - lastValueAt) / 1000 : 0, metricAttributes);
        lastValueAt = at;
      }
      values++;
      readValue(value);
    },
    retried(event) {
      retries++;
      const type = errorType(event.error);
      const attributes: Attributes = { [ATTR.errorType]: type, [OWN_ATTR.attempt]: event.attempt, [OWN_ATTR.delayMs]: event.delay };
      const status = (event.error as { status?: unknown } | null)?.status;
      if ((event.error as { name?: unknown } | null)?.name === 'HttpError' && typeof status === 'number') attributes[ATTR.httpStatusCode] = status;
      timeoutEvent(event.error);
      span.addEvent(EVENT.retry, attributes);
    },
    failed: (error) => finish(error, 'error'),
    completed: () => finish(undefined, 'ok'),
    cancelled: () => finish(undefined, 'cancelled'),
  };

  /** The first value of an attempt: a restart or resume by the source's mark; the first chunk of the answer; no interval. */
  function firstOfThisAttempt(value: unknown, at: number): void {
    firstOfAttempt = false;
    lastValueAt = at;
    const start = streamStartOf(value);
    if (start !== undefined && (values > 0 || start.resumed)) {
      if (start.resumed) span.addEvent(EVENT.resume, { [OWN_ATTR.attempt]: attempts, [OWN_ATTR.keptChunks]: values });
      else {
        span.addEvent(EVENT.restart, { [OWN_ATTR.attempt]: attempts, [OWN_ATTR.discardedChunks]: values });
        values = 0;
        text = '';
        finishReasons.length = 0;
        usage = undefined;
        responseId = undefined;
        responseModel = undefined;
      }
    }
    if (!firstChunkSeen) {
      firstChunkSeen = true;
      const seconds = Math.max(0, at - started) / 1000;
      instruments.firstChunk.record(seconds, metricAttributes);
      span.setAttribute(ATTR.responseTimeToFirstChunk, seconds);
    }
  }

  /** Reads a chunk (`choices[].finish_reason`, `usage`) or a snapshot (`finishReason`, `choices[].finishReason`, `usage`). */
  function readValue(value: unknown): void {
    if (typeof value !== 'object' || value === null) return;
    const record = value as {
      id?: unknown;
      model?: unknown;
      usage?: unknown;
      content?: unknown;
      choices?: unknown;
    };
    if (responseId === undefined && typeof record.id === 'string' && record.id !== '') responseId = record.id;
    if (responseModel === undefined && typeof record.model === 'string' && record.model !== '') responseModel = record.model;
    if (typeof record.usage === 'object' && record.usage !== null) readUsage(record.usage as Record<string, unknown>);
    const snapshot = typeof record.content === 'string';
    if (Array.isArray(record.choices)) {
      for (const choice of record.choices as unknown[]) {
        if (typeof choice !== 'object' || choice === null) continue;
        const { index, finish_reason, finishReason, delta } = choice as {
          index?: unknown;
          finish_reason?: unknown;
          finishReason?: unknown;
          delta?: { content?: unknown };
        };
        const reason = snapshot ? finishReason : finish_reason;
        const at = typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < 128 ? index : 0;
        if (typeof reason === 'string' && reason !== '') finishReasons[at] = reason;
        if (setup.recordContent && !snapshot && at === 0 && typeof delta?.content === 'string') text += delta.content;
      }
    }
    if (setup.recordContent && snapshot) text = record.content as string;
  }

  function readUsage(raw: Record<string, unknown>): void {
    const number = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined);
    const details = raw['prompt_tokens_details'] as { cached_tokens?: unknown } | null | undefined;
    usage = {
      ...(number(raw['prompt_tokens']) === undefined ? {} : { input: number(raw['prompt_tokens'])! }),
      ...(number(raw['completion_tokens']) === undefined ? {} : { output: number(raw['completion_tokens'])! }),
      ...(number(details?.cached_tokens) === undefined ? {} : { cacheRead: number(details?.cached_tokens)! }),
    };
  }
}

/**
 * `error.type`: the HTTP status for an `HttpError` (as the HTTP conventions
 * do), the error's `name` for the library's typed errors and other `Error`s,
 * `_OTHER` for anything else. Never the message: it may hold what a server
 * sent.
 */
export function errorType(error: unknown): string {
  if (typeof error !== 'object' || error === null) return VALUE.otherError;
  const { name, status } = error as { name?: unknown; status?: unknown };
  if (name === 'HttpError' && typeof status === 'number') return String(status);
  return typeof name === 'string' && /^[A-Za-z_$][\w$.]{0,99}$/.test(name) ? name : VALUE.otherError;
}
