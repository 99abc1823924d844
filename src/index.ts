/**
 * The sources, operators, errors and their guards, and the wire types: everything that runs in a browser and on Node 18+.
 *
 * @example
 * ```ts
 * import { fromChatCompletion, untilDone, accumulateContent, retryWithBackoff } from 'rxjs-llm-stream';
 * ```
 *
 * @module rxjs-llm-stream
 */
export { fromChatCompletion, DEFAULT_BASE_URL } from './sources/fromChatCompletion.js';
export type { ChatCompletionOptions, ChatCompletionRequest } from './sources/fromChatCompletion.js';
export type { WithExtensions } from './requests/extensions.js';
export type {
  ChatAudioPart,
  ChatFilePart,
  ChatImagePart,
  ChatMessage,
  ChatRefusalPart,
  ChatResponseFormat,
  ChatTextPart,
  ChatTool,
  ChatToolCall,
} from './requests/chatCompletionRequest.js';
export type { ResponsesInputItem, ResponsesInputPart, ResponsesTextFormat, ResponsesTool } from './requests/responsesRequest.js';
export type { AnthropicCacheControl, AnthropicContentBlock, AnthropicMessage, AnthropicTool } from './requests/anthropicRequest.js';
export type { GeminiContent, GeminiGenerationConfig, GeminiPart, GeminiTool } from './requests/geminiRequest.js';
export type { FetchLike, HeadersInput, TransportOptions } from './transport/streamRequest.js';
export { untilDone } from './operators/untilDone.js';
export { accumulateContent, type UseUntilDoneBeforeAccumulateContent } from './operators/accumulateContent.js';
export { retryWithBackoff } from './operators/retryWithBackoff.js';
export type { Jitter, RetryEvent, RetryWithBackoffOptions } from './operators/retryWithBackoff.js';
export {
  ApiError,
  HttpError,
  IdleTimeoutError,
  NetworkError,
  ParseError,
  StreamError,
  StreamInterruptedError,
  isRetryable,
  isRetryableStatus,
} from './errors.js';
export type { ApiErrorDetails } from './errors.js';
export { DONE } from './types.js';
export type {
  ChatCompletionChunk,
  ChatCompletionChunkChoice,
  ChatCompletionDelta,
  ChatCompletionEvent,
  ChatCompletionSnapshot,
  ChoiceSnapshot,
  ToolCallDelta,
  ToolCallSnapshot,
  Usage,
} from './types.js';
export { withStreamStatus } from './operators/withStreamStatus.js';
export type { StreamState, StreamStatus, StreamStatusOptions } from './operators/withStreamStatus.js';
export { fromAnthropicMessages, DEFAULT_ANTHROPIC_BASE_URL, DEFAULT_ANTHROPIC_VERSION } from './sources/fromAnthropicMessages.js';
export type { AnthropicMessagesOptions, AnthropicMessagesRequest } from './sources/fromAnthropicMessages.js';
export { fromGeminiContent, DEFAULT_GEMINI_BASE_URL } from './sources/fromGeminiContent.js';
export type { GeminiContentOptions, GeminiContentRequest } from './sources/fromGeminiContent.js';
export { STREAM_START, markStreamStart, streamStartOf } from './streamStart.js';
export type { StreamStart } from './streamStart.js';
export { withDeadline } from './operators/withDeadline.js';
export type { WithDeadlineOptions } from './operators/withDeadline.js';
export { DeadlineExceededError } from './errors.js';
export { OrphanedResponseError } from './errors.js';
export { InconsistentOffsetError } from './errors.js';
export { fromResponses } from './sources/fromResponses.js';
export type { ResponsesOptions, ResponsesRequest, ResponsesResumePoint } from './sources/fromResponses.js';
export {
  isApiError,
  isHttpError,
  isIdleTimeoutError,
  isNetworkError,
  isParseError,
  isStreamError,
  isStreamInterruptedError,
} from './guards.js';
export { parseRelayedChunks, RelayedError } from './operators/parseRelayedChunks.js';
export type { RelayedEvent } from './operators/parseRelayedChunks.js';
export { parseJsonAsItStreams } from './operators/parseJsonAsItStreams.js';
export type { DeepPartial, JsonSnapshot, ParsedToolCall, ParseJsonAsItStreamsOptions } from './operators/parseJsonAsItStreams.js';
export { SchemaValidationError } from './errors.js';
export type { SchemaIssue } from './errors.js';
export type { ContentPart } from './types.js';
export { fromServerSentEvents } from './sources/fromServerSentEvents.js';
export type { FromServerSentEventsOptions, ServerSentEvent } from './sources/fromServerSentEvents.js';
export { fromDurableStream } from './sources/fromDurableStream.js';
export type { DurableStreamLive, FromDurableStreamOptions } from './sources/fromDurableStream.js';
export type { ChatContinuation } from './providers/continuation.js';
export { chatCompletionResponseFormat } from './structured/chatCompletionResponseFormat.js';
export type { StructuredOutputOptions } from './structured/chatCompletionResponseFormat.js';
export { responsesTextFormat } from './structured/responsesTextFormat.js';
export { anthropicSchemaTool } from './structured/anthropicSchemaTool.js';
export { anthropicOutputFormat } from './structured/anthropicOutputFormat.js';
export { geminiResponseSchema } from './structured/geminiResponseSchema.js';
export { SchemaConversionError } from './structured/schemaConversionError.js';
export type { JsonSchemaObject, StandardJsonSchemaV1 } from './structured/standardJsonSchema.js';
