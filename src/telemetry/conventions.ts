/**
 * The names this package's telemetry emits. The `gen_ai.*`, `server.*`,
 * `error.type` and `http.*` names are the OpenTelemetry semantic conventions'
 * (GenAI client spans and metrics); spec/telemetryConventions.spec.ts compares
 * each of them with the constants of `@opentelemetry/semantic-conventions`'s
 * incubating entry, so a rename there fails the build here. They are written
 * out rather than imported: that package would be one more runtime
 * dependency, and its incubating entry is not meant to be imported by
 * libraries at run time.
 *
 * The `rxjs_llm_stream.*` names are this package's own: the events no
 * convention has (retries, restarts, resumes, timeouts) and the relay's
 * metrics.
 */

/** GenAI and general attributes, as the conventions spell them. */
export const ATTR = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  requestStream: 'gen_ai.request.stream',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  responseFinishReasons: 'gen_ai.response.finish_reasons',
  responseTimeToFirstChunk: 'gen_ai.response.time_to_first_chunk',
  usageInputTokens: 'gen_ai.usage.input_tokens',
  usageOutputTokens: 'gen_ai.usage.output_tokens',
  usageCacheReadInputTokens: 'gen_ai.usage.cache_read.input_tokens',
  tokenType: 'gen_ai.token.type',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  errorType: 'error.type',
  httpStatusCode: 'http.response.status_code',
} as const;

/** Values of `gen_ai.operation.name`, `gen_ai.provider.name` and `gen_ai.token.type` used here. */
export const VALUE = {
  chat: 'chat',
  generateContent: 'generate_content',
  openai: 'openai',
  anthropic: 'anthropic',
  gcpGemini: 'gcp.gemini',
  input: 'input',
  output: 'output',
  /** `error.type` when the error is not an `Error` with a name. */
  otherError: '_OTHER',
} as const;

/** The GenAI client metrics. */
export const METRIC = {
  operationDuration: 'gen_ai.client.operation.duration',
  tokenUsage: 'gen_ai.client.token.usage',
  timeToFirstChunk: 'gen_ai.client.operation.time_to_first_chunk',
  timePerOutputChunk: 'gen_ai.client.operation.time_per_output_chunk',
} as const;

/** This package's span events and their attributes. */
export const EVENT = {
  retry: 'rxjs_llm_stream.retry',
  restart: 'rxjs_llm_stream.restart',
  resume: 'rxjs_llm_stream.resume',
  idleTimeout: 'rxjs_llm_stream.idle_timeout',
  deadline: 'rxjs_llm_stream.deadline',
  cancelled: 'rxjs_llm_stream.cancelled',
} as const;

export const OWN_ATTR = {
  /** The retry about to be made: 1, 2, ... */
  attempt: 'rxjs_llm_stream.attempt',
  /** Milliseconds waited before the retry (jitter and `Retry-After` applied). */
  delayMs: 'rxjs_llm_stream.retry.delay_ms',
  /** On a resume: values of this answer received before it and kept. */
  keptChunks: 'rxjs_llm_stream.kept_chunks',
  /** On a restart: values of this answer received before it and dropped (the answer starts over). */
  discardedChunks: 'rxjs_llm_stream.discarded_chunks',
  /** The idle timeout or deadline that was exceeded, in milliseconds. */
  timeoutMs: 'rxjs_llm_stream.timeout_ms',
  /** Retries this answer made, on the span at its end. */
  retries: 'rxjs_llm_stream.retries',
  /** The relay's stream id. */
  streamId: 'rxjs_llm_stream.relay.stream_id',
  /** Whether the relay's producer continued a log another producer left. */
  takeover: 'rxjs_llm_stream.relay.takeover',
  resumed: 'rxjs_llm_stream.relay.resumed',
  outcome: 'rxjs_llm_stream.relay.outcome',
  reason: 'rxjs_llm_stream.relay.reason',
  operation: 'rxjs_llm_stream.relay.store_operation',
  entries: 'rxjs_llm_stream.relay.entries',
  /** Which store connection was lost or is back: `commands` or `changes`. */
  connection: 'rxjs_llm_stream.relay.store_connection',
} as const;

/** The relay's metrics, per instance (the meter's resource says which instance). */
export const RELAY_METRIC = {
  streams: 'rxjs_llm_stream.relay.streams',
  readers: 'rxjs_llm_stream.relay.readers',
  appended: 'rxjs_llm_stream.relay.events.appended',
  served: 'rxjs_llm_stream.relay.events.served',
  readerLag: 'rxjs_llm_stream.relay.reader.lag',
  takeovers: 'rxjs_llm_stream.relay.takeovers',
  handOvers: 'rxjs_llm_stream.relay.hand_overs',
  leasesLost: 'rxjs_llm_stream.relay.leases_lost',
  storeErrors: 'rxjs_llm_stream.relay.store.errors',
  storeDisconnects: 'rxjs_llm_stream.relay.store.disconnects',
  storeReconnects: 'rxjs_llm_stream.relay.store.reconnects',
} as const;

/** The instrumentation scope: tracer and meter name. */
export const SCOPE = 'rxjs-llm-stream';
