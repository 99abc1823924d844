/**
 * A general **Durable Streams** log store: the state behind `durableLogResponse`
 * (streams created, appended, closed, forked and deleted over HTTP, with any
 * content type, idempotent producers, `Stream-Seq`, TTLs and expiry). Two
 * implementations: `memoryDurableLogStore()` (one process) and
 * `redisDurableLogStore(client)`. Offsets are opaque, fixed-width strings that
 * sort as their positions (`<16 digits>_<16 digits>`).
 *
 * @example
 * ```ts
 * const store: DurableLogStore = memoryDurableLogStore();
 * await store.create('/v1/stream/chat-1', { contentType: 'application/json' });
 * const appended = await store.append('/v1/stream/chat-1', new TextEncoder().encode('{"a":1}'), { contentType: 'application/json' });
 * ```
 */
export interface DurableLogStore {
  /** Creates `path`, or answers `created: false` when it exists with the same configuration; throws `DurableLogError` (409 another configuration, 404 a missing fork source, 400 a bad fork offset). */
  create(path: string, options: DurableLogCreateOptions): Promise<DurableLogCreateResult>;
  /** Appends `data` (a close without data when `data` is empty and `close` is set), checking the producer and `Stream-Seq` atomically with the write. */
  append(path: string, data: Uint8Array, options: DurableLogAppendOptions): Promise<DurableLogAppendResult>;
  /** The stream's metadata, or `undefined` when it does not exist (or expired). Does not renew a TTL. */
  head(path: string): Promise<DurableLogMeta | undefined>;
  /** The messages after `offset` (`undefined`: from the start), and the metadata; renews a TTL. `undefined` when the stream does not exist. */
  read(path: string, offset: string | undefined): Promise<DurableLogRead | undefined>;
  /** Deletes `path` (a stream with live forks is kept for them, gone to everyone else); `false` when it did not exist. */
  delete(path: string): Promise<boolean>;
  /** Resolves when `path` changes after `offset` (an append, a close, a delete), after `timeoutMs`, or when `signal` aborts, whichever comes first. */
  waitForChange(path: string, offset: string, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** Releases timers and connections the store opened itself. */
  close?(): Promise<void>;
}

/** What `create` is asked for: the protocol's `PUT` headers, and the body as the first message. */
export interface DurableLogCreateOptions {
  /** The stream's content type (`undefined` on a fork: the source's). */
  contentType?: string | undefined;
  /** `Stream-TTL`: seconds of inactivity (reads and appends renew it) before the stream expires. */
  ttlSeconds?: number | undefined;
  /** `Stream-Expires-At`: an absolute expiry, as sent. */
  expiresAt?: string | undefined;
  /** `Stream-Closed: true`: created closed. */
  closed?: boolean | undefined;
  /** The body of the `PUT` (appended as the first message; an empty JSON array creates an empty JSON stream). */
  initialData?: Uint8Array | undefined;
  /** `Stream-Forked-From`: the path of the source stream. */
  forkedFrom?: string | undefined;
  /** `Stream-Fork-Offset`: where the fork diverges (default: the source's tail). */
  forkOffset?: string | undefined;
  /** `Stream-Fork-Sub-Offset`: bytes (JSON: values) of the source's next message the fork also inherits. */
  forkSubOffset?: number | undefined;
}

/** What `create` did. */
export interface DurableLogCreateResult {
  /** `true` for a new stream (`201`), `false` for an idempotent re-create (`200`). */
  created: boolean;
  meta: DurableLogMeta;
}

/** An idempotent producer's tuple (`Producer-Id`, `Producer-Epoch`, `Producer-Seq`). */
export interface DurableLogProducer {
  id: string;
  epoch: number;
  seq: number;
}

/** What `append` is asked for: the protocol's `POST` headers. */
export interface DurableLogAppendOptions {
  /** The request's `Content-Type` (must match the stream's). */
  contentType?: string | undefined;
  /** `Stream-Closed: true`: close the stream after this append (or, with no data, just close it). */
  close?: boolean | undefined;
  /** `Stream-Seq`: a writer's sequence, which must grow (compared as strings). */
  streamSeq?: string | undefined;
  /** The idempotent producer, when the request carried its headers. */
  producer?: DurableLogProducer | undefined;
}

/** What `append` did. */
export type DurableLogAppendResult =
  /** Written (or, for a close without data, closed): `offset` is the new tail. */
  | { status: 'appended'; offset: string; closed: boolean }
  /** A producer's retry of what is already written: `lastSeq` is the producer's last accepted sequence. */
  | { status: 'duplicate'; lastSeq: number; closed: boolean; offset: string }
  /** The stream is closed; nothing was written. */
  | { status: 'closed'; offset: string }
  /** The producer's epoch is older than the stream knows (`403`, fenced). */
  | { status: 'stale-epoch'; currentEpoch: number }
  /** A new epoch that does not start at sequence 0 (`400`). */
  | { status: 'invalid-epoch-seq' }
  /** The producer skipped a sequence (`409`). */
  | { status: 'sequence-gap'; expectedSeq: number; receivedSeq: number };

/** A stream's metadata. */
export interface DurableLogMeta {
  contentType: string | undefined;
  /** The tail: the offset after the last message. */
  nextOffset: string;
  closed: boolean;
  ttlSeconds?: number | undefined;
  expiresAt?: string | undefined;
  /** Deleted (or expired) but kept for its forks: `410 Gone` to readers. */
  gone: boolean;
}

/** One message and the offset after it. */
export interface DurableLogMessage {
  data: Uint8Array;
  offset: string;
}

/** What `read` found. */
export interface DurableLogRead {
  messages: DurableLogMessage[];
  meta: DurableLogMeta;
}

/**
 * A request the store refuses, with the HTTP status the protocol gives it
 * (`400`, `404`, `409`, `410`).
 *
 * @example
 * ```ts
 * try {
 *   await store.create('/v1/stream/a', { contentType: 'text/plain' });
 * } catch (error) {
 *   if (error instanceof DurableLogError && error.status === 409) console.warn('exists with another configuration');
 * }
 * ```
 */
export class DurableLogError extends Error {
  override readonly name = 'DurableLogError';
  constructor(
    /** The HTTP status of the refusal. */
    readonly status: 400 | 404 | 409 | 410,
    message: string,
  ) {
    super(message);
  }
}
