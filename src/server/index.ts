/**
 * Serving streams as Server-Sent Events (Node, Web `Response`, NestJS) and the resumable relay with its memory and Redis stores.
 *
 * @example
 * ```ts
 * import { createRelay, toServerSentEvents, writeServerSentEvents, RELAY } from 'rxjs-llm-stream/server';
 * ```
 *
 * @module rxjs-llm-stream/server
 */
export { formatServerSentEvent } from './formatServerSentEvent.js';
export type { ServerSentEventInit } from './formatServerSentEvent.js';
export { toServerSentEvents, DEFAULT_HEARTBEAT } from './toServerSentEvents.js';
export type { ServerSentEventsOptions } from './toServerSentEvents.js';
export { writeServerSentEvents } from './writeServerSentEvents.js';
export type { WriteServerSentEventsOptions } from './writeServerSentEvents.js';
export { serverSentEventsResponse } from './serverSentEventsResponse.js';
export type { ServerSentEventsResponseOptions } from './serverSentEventsResponse.js';
export { toNestMessageEvents, NEST_PING } from './toNestMessageEvents.js';
export type { NestMessageEvent, NestMessageEventsOptions } from './toNestMessageEvents.js';
export { SSE_HEADERS } from './sseHeaders.js';
export { durableStreamsResponse } from './durableStreamsResponse.js';
export type { DurableStreamsOptions } from './durableStreamsResponse.js';
export { writeDurableStreams } from './writeDurableStreams.js';
export { durableStreamsRelayStore } from './durableStreamsRelayStore.js';
export type { DurableStreamsRelayStoreOptions } from './durableStreamsRelayStore.js';
export { createRelay } from './createRelay.js';
export type { Relay, RelayCloseOptions, RelayOptions, RelayReadOptions, RelaySourceFactory, RelayStartOptions, ToRelayEvent } from './createRelay.js';
export type { RelayActivity, RelayStoreConnection } from './relayActivity.js';
export { isRelayStreamId } from './relayStreamId.js';
export { formatRelayEventId, parseRelayEventId } from './relayEventId.js';
export type { RelayPosition } from './relayEventId.js';
export { PULL_FRAMES, pulledFrames } from './pullFrames.js';
export type { FramesDemand, PullFrames } from './pullFrames.js';
export { RELAY } from './relayToken.js';
export { memoryRelayStore } from './memoryRelayStore.js';
export type { MemoryRelayStoreOptions } from './memoryRelayStore.js';
export { redisRelayStore } from './redisRelayStore.js';
export type { NamedRedisClient, RedisClientKind, RedisClientLike, RedisRelayStoreOptions } from './redisRelayStore.js';
export { RelayBusyError, RelayForbiddenError, RelayLeaseLostError, RelayLogFullError, RelayStreamNotFoundError } from './relayStore.js';
export type {
  RelayClaim,
  RelayClaimOptions,
  RelayEntry,
  RelayEvent,
  RelayLease,
  RelayLogEntry,
  RelayLogState,
  RelayPage,
  RelayReadSeen,
  RelayStore,
} from './relayStore.js';
export { durableLogResponse } from './durableLogResponse.js';
export type { DurableLogOptions } from './durableLogResponse.js';
export { writeDurableLog } from './writeDurableLog.js';
export { memoryDurableLogStore } from './memoryDurableLogStore.js';
export type { MemoryDurableLogStoreOptions } from './memoryDurableLogStore.js';
export { DurableLogError } from './durableLogStore.js';
export type {
  DurableLogStore,
  DurableLogCreateOptions,
  DurableLogCreateResult,
  DurableLogProducer,
  DurableLogAppendOptions,
  DurableLogAppendResult,
  DurableLogMeta,
  DurableLogMessage,
  DurableLogRead,
} from './durableLogStore.js';
export { redisDurableLogStore } from './redisDurableLogStore.js';
export type { RedisDurableLogStoreOptions } from './redisDurableLogStore.js';
