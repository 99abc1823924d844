import { advanceOffset, isJsonType, mediaTypeOf, storedJson, subOffsetPrefix, ZERO_OFFSET } from './durableLogFormat.js';
import {
  DurableLogError,
  type DurableLogAppendOptions,
  type DurableLogAppendResult,
  type DurableLogCreateOptions,
  type DurableLogMessage,
  type DurableLogMeta,
  type DurableLogProducer,
  type DurableLogStore,
} from './durableLogStore.js';

/** Producer state older than this is forgotten (the protocol's 7 days). */
const PRODUCER_TTL_MS = 7 * 24 * 3600_000;

interface ProducerState {
  epoch: number;
  lastSeq: number;
  updatedAt: number;
}

interface LogRecord {
  contentType: string | undefined;
  messages: DurableLogMessage[];
  nextOffset: string;
  closed: boolean;
  closedBy?: DurableLogProducer;
  ttlSeconds?: number | undefined;
  expiresAt?: string | undefined;
  lastAccess: number;
  lastStreamSeq?: string;
  producers: Map<string, ProducerState>;
  forkedFrom?: string;
  forkOffset?: string;
  forkSubOffset?: number;
  forks: number;
  gone: boolean;
}

/** Options of `memoryDurableLogStore`. */
export interface MemoryDurableLogStoreOptions {
  /** The clock (ms since 1970) for TTLs and expiry. Default: `Date.now`. */
  now?: (() => number) | undefined;
}

/**
 * A `DurableLogStore` in this process's memory: every stream, its messages,
 * producers and forks, for one server (tests, a single instance, a demo).
 * Expired streams are dropped when next touched. An append checks and
 * commits producer state and `Stream-Seq` with the write, in one step.
 *
 * ```text
 * create('/s', text/plain)      → created, tail 0…0_0…0
 * append('/s', 'ab')            → appended, tail 0…0_0…02
 * append('/s', 'c', p(id,0,0))  → appended;  again → duplicate (lastSeq 0)
 * read('/s', undefined)         → [ab, c]
 * ```
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * const store = memoryDurableLogStore();
 * createServer((req, res) => void writeDurableLog(req, res, { store })).listen(4437, '127.0.0.1');
 * ```
 */
export function memoryDurableLogStore(options: MemoryDurableLogStoreOptions = {}): DurableLogStore {
  const now = options.now ?? Date.now;
  const logs = new Map<string, LogRecord>();
  const waiters = new Map<string, Set<() => void>>();

  const wake = (path: string) => {
    const set = waiters.get(path);
    if (!set) return;
    waiters.delete(path);
    for (const resolve of set) resolve();
  };

  const expired = (log: LogRecord) => {
    const at = now();
    if (log.expiresAt !== undefined) {
      const expiry = new Date(log.expiresAt).getTime();
      if (!Number.isFinite(expiry) || at >= expiry) return true;
    }
    return log.ttlSeconds !== undefined && at >= log.lastAccess + log.ttlSeconds * 1000;
  };

  /** The stream at `path`, dropping it (or marking it gone, if forks use it) when it expired. */
  const live = (path: string): LogRecord | undefined => {
    const log = logs.get(path);
    if (log === undefined || !expired(log)) return log;
    if (log.forks > 0) {
      log.gone = true;
      return log;
    }
    drop(path);
    return undefined;
  };

  const drop = (path: string) => {
    const log = logs.get(path);
    if (log === undefined) return;
    logs.delete(path);
    wake(path);
    if (log.forkedFrom === undefined) return;
    const source = logs.get(log.forkedFrom);
    if (source === undefined) return;
    source.forks = Math.max(0, source.forks - 1);
    if (source.forks === 0 && source.gone) drop(log.forkedFrom);
  };

  const metaOf = (log: LogRecord): DurableLogMeta => ({
    contentType: log.contentType,
    nextOffset: log.nextOffset,
    closed: log.closed,
    ttlSeconds: log.ttlSeconds,
    expiresAt: log.expiresAt,
    gone: log.gone,
  });

  /** Messages of `log` after `after`, up to `cap`, through its fork chain. */
  const collect = (log: LogRecord, after: string | undefined, cap: string | undefined): DurableLogMessage[] => {
    const out: DurableLogMessage[] = [];
    if (log.forkedFrom !== undefined && (after === undefined || after < log.forkOffset!)) {
      const source = logs.get(log.forkedFrom);
      if (source !== undefined) out.push(...collect(source, after, cap === undefined || log.forkOffset! < cap ? log.forkOffset! : cap));
    }
    for (const message of log.messages) {
      if (after !== undefined && message.offset <= after) continue;
      if (cap !== undefined && message.offset > cap) break;
      out.push(message);
    }
    return out;
  };

  const push = (log: LogRecord, data: Uint8Array) => {
    const offset = advanceOffset(log.nextOffset, data.length);
    log.messages.push({ data, offset });
    log.nextOffset = offset;
  };

  const checkProducer = (log: LogRecord, producer: DurableLogProducer): DurableLogAppendResult | ProducerState => {
    const at = now();
    for (const [id, state] of log.producers) if (at - state.updatedAt > PRODUCER_TTL_MS) log.producers.delete(id);
    const state = log.producers.get(producer.id);
    if (state === undefined || producer.epoch > state.epoch) {
      if (producer.seq !== 0) {
        return state === undefined ? { status: 'sequence-gap', expectedSeq: 0, receivedSeq: producer.seq } : { status: 'invalid-epoch-seq' };
      }
      return { epoch: producer.epoch, lastSeq: 0, updatedAt: at };
    }
    if (producer.epoch < state.epoch) return { status: 'stale-epoch', currentEpoch: state.epoch };
    if (producer.seq <= state.lastSeq) return { status: 'duplicate', lastSeq: state.lastSeq, closed: log.closed, offset: log.nextOffset };
    if (producer.seq !== state.lastSeq + 1) return { status: 'sequence-gap', expectedSeq: state.lastSeq + 1, receivedSeq: producer.seq };
    return { epoch: producer.epoch, lastSeq: producer.seq, updatedAt: at };
  };

  const sameProducer = (a: DurableLogProducer | undefined, b: DurableLogProducer | undefined) =>
    a !== undefined && b !== undefined && a.id === b.id && a.epoch === b.epoch && a.seq === b.seq;

  return {
    async create(path: string, request: DurableLogCreateOptions) {
      const existing = logs.get(path);
      if (existing !== undefined) {
        if (expired(existing) && existing.forks === 0) {
          drop(path);
        } else if (existing.gone || expired(existing)) {
          existing.gone = true;
          throw new DurableLogError(409, 'The stream was deleted but still has forks: its path cannot be reused until they are removed.');
        } else {
          const same =
            (mediaTypeOf(request.contentType) || 'application/octet-stream') === (mediaTypeOf(existing.contentType) || 'application/octet-stream') &&
            request.ttlSeconds === existing.ttlSeconds &&
            request.expiresAt === existing.expiresAt &&
            (request.closed ?? false) === existing.closed &&
            request.forkedFrom === existing.forkedFrom &&
            (request.forkOffset === undefined || request.forkOffset === existing.forkOffset) &&
            (request.forkSubOffset ?? 0) === (existing.forkSubOffset ?? 0);
          if (!same) throw new DurableLogError(409, 'The stream exists with another configuration.');
          return { created: false, meta: metaOf(existing) };
        }
      }
      const log: LogRecord = {
        contentType: request.contentType,
        messages: [],
        nextOffset: ZERO_OFFSET,
        closed: request.closed ?? false,
        ttlSeconds: request.ttlSeconds,
        expiresAt: request.expiresAt,
        lastAccess: now(),
        producers: new Map(),
        forks: 0,
        gone: false,
      };
      let source: LogRecord | undefined;
      if (request.forkedFrom !== undefined) {
        source = logs.get(request.forkedFrom);
        if (source === undefined || (!source.gone && expired(source))) throw new DurableLogError(404, 'Source stream not found');
        if (source.gone) throw new DurableLogError(409, 'The source stream was deleted but still has forks.');
        if (request.contentType !== undefined && request.contentType.trim() !== '' && mediaTypeOf(request.contentType) !== mediaTypeOf(source.contentType)) {
          throw new DurableLogError(409, 'Content type mismatch with the source stream');
        }
        const forkOffset = request.forkOffset ?? source.nextOffset;
        if (forkOffset < ZERO_OFFSET || forkOffset > source.nextOffset) throw new DurableLogError(400, 'Fork offset beyond the source stream');
        log.forkedFrom = request.forkedFrom;
        log.forkOffset = forkOffset;
        log.nextOffset = forkOffset;
        if (log.contentType === undefined || log.contentType.trim() === '') log.contentType = source.contentType;
        if (request.ttlSeconds === undefined && request.expiresAt === undefined) {
          if (source.ttlSeconds !== undefined) log.ttlSeconds = source.ttlSeconds;
          else if (source.expiresAt !== undefined) log.expiresAt = source.expiresAt;
        }
        if (request.forkSubOffset !== undefined && request.forkSubOffset > 0) {
          push(log, subOffsetPrefix(collect(source, forkOffset, undefined)[0]?.data, request.forkSubOffset, isJsonType(source.contentType)));
          log.forkSubOffset = request.forkSubOffset;
        }
      }
      if (request.initialData !== undefined && request.initialData.length > 0) {
        const data = isJsonType(log.contentType) ? storedJson(request.initialData, true) : request.initialData;
        if (data.length > 0) push(log, data);
      }
      if (source !== undefined) source.forks++;
      logs.set(path, log);
      return { created: true, meta: metaOf(log) };
    },

    async append(path: string, data: Uint8Array, request: DurableLogAppendOptions): Promise<DurableLogAppendResult> {
      const log = live(path);
      if (log === undefined) throw new DurableLogError(404, 'Stream not found');
      if (log.gone) throw new DurableLogError(410, 'Stream is gone');
      const { producer } = request;
      if (log.closed) {
        if (sameProducer(producer, log.closedBy)) return { status: 'duplicate', lastSeq: producer!.seq, closed: true, offset: log.nextOffset };
        return { status: 'closed', offset: log.nextOffset };
      }
      const closeOnly = data.length === 0;
      if (!closeOnly && request.contentType !== undefined && log.contentType !== undefined && mediaTypeOf(request.contentType) !== mediaTypeOf(log.contentType)) {
        throw new DurableLogError(409, 'Content-type mismatch');
      }
      let next: ProducerState | undefined;
      if (producer !== undefined) {
        const checked = checkProducer(log, producer);
        if ('status' in checked) return checked;
        next = checked;
      }
      if (!closeOnly && request.streamSeq !== undefined && log.lastStreamSeq !== undefined && request.streamSeq <= log.lastStreamSeq) {
        throw new DurableLogError(409, 'Sequence conflict');
      }
      if (!closeOnly) push(log, isJsonType(log.contentType) ? storedJson(data, false) : data);
      if (next !== undefined) log.producers.set(producer!.id, next);
      if (!closeOnly && request.streamSeq !== undefined) log.lastStreamSeq = request.streamSeq;
      if (request.close === true) {
        log.closed = true;
        if (producer !== undefined) log.closedBy = { ...producer };
      }
      log.lastAccess = now();
      wake(path);
      return { status: 'appended', offset: log.nextOffset, closed: log.closed };
    },

    async head(path: string) {
      const log = live(path);
      return log === undefined ? undefined : metaOf(log);
    },

    async read(path: string, offset: string | undefined) {
      const log = live(path);
      if (log === undefined) return undefined;
      if (!log.gone) log.lastAccess = now();
      return { messages: collect(log, offset === '-1' ? undefined : offset, undefined), meta: metaOf(log) };
    },

    async delete(path: string) {
      const log = live(path);
      if (log === undefined) return false;
      if (log.gone) throw new DurableLogError(410, 'Stream is gone');
      if (log.forks > 0) {
        log.gone = true;
        wake(path);
      } else {
        drop(path);
      }
      return true;
    },

    waitForChange(path: string, offset: string, timeoutMs: number, signal?: AbortSignal) {
      return new Promise<void>((resolve) => {
        const log = live(path);
        if (log === undefined || log.gone || log.closed || log.nextOffset !== offset || signal?.aborted) {
          resolve();
          return;
        }
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          waiters.get(path)?.delete(done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        signal?.addEventListener('abort', done, { once: true });
        let set = waiters.get(path);
        if (set === undefined) waiters.set(path, (set = new Set()));
        set.add(done);
      });
    },

    async close() {
      for (const path of [...waiters.keys()]) wake(path);
    },
  };
}
