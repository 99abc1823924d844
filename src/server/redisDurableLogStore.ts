import { ChangeFeeds } from './redis/changeFeeds.js';
import { connectionOf, type RedisConnection } from './redis/redisConnection.js';
import { APPEND, CREATE, DELETE, READ, type DurableLogScript } from './redis/durableLogScripts.js';
import { isJsonType, mediaTypeOf, storedJson, subOffsetPrefix } from './durableLogFormat.js';
import {
  DurableLogError,
  type DurableLogAppendOptions,
  type DurableLogAppendResult,
  type DurableLogCreateOptions,
  type DurableLogMessage,
  type DurableLogMeta,
  type DurableLogStore,
} from './durableLogStore.js';

/** Options of `redisDurableLogStore`. */
export interface RedisDurableLogStoreOptions {
  /** Prefix of every key and channel. Default: `'ds:'`. */
  keyPrefix?: string | undefined;
  /**
   * How long one Redis call may take before it fails (the handler answers
   * `503`), ms: a client whose connection is down queues commands instead
   * of failing them. A timed-out append may still run once Redis is back; a
   * producer's retry of it is then answered as a duplicate. Default: 5000.
   */
  storeTimeout?: number | undefined;
}

const PRODUCER_TTL_MS = 7 * 24 * 3600_000;

/** Data as the scripts take it: its byte length in 12 digits, then base64. */
function packed(data: Uint8Array): string {
  return `${String(data.length).padStart(12, '0')}${Buffer.from(data).toString('base64')}`;
}

function metaFrom(reply: readonly string[], at: number): DurableLogMeta {
  const [contentType, nextOffset, closed, ttl, expiresAt, gone] = reply.slice(at, at + 6) as [string, string, string, string, string, string];
  return {
    contentType: contentType === '' ? undefined : contentType,
    nextOffset,
    closed: closed === '1',
    ttlSeconds: ttl === '' ? undefined : Number(ttl),
    expiresAt: expiresAt === '' ? undefined : expiresAt,
    gone: gone === '1',
  };
}

/** The position after an offset (`-1`: before everything; a foreign offset: past everything). */
function positionOf(offset: string | undefined): number {
  if (offset === undefined || offset === '-1') return -1;
  const match = /^(\d+)_(\d+)$/.exec(offset);
  if (!match) return -1;
  return Number(match[1]) > 0 ? Number.MAX_SAFE_INTEGER : Number(match[2]);
}

/**
 * A `DurableLogStore` on Redis: each stream is a hash of metadata, a sorted
 * set of messages and a hash of producer states, and every create, append
 * (with its producer and `Stream-Seq` checks), read and delete is one Lua
 * script, so any number of server instances share the streams and a
 * producer's retry is recognised whichever instance it reaches. Live readers
 * wait on the stream's pub/sub channel (one extra connection per store).
 * Takes node-redis (4, 5, 6) or ioredis (5, 6), connected; a single Redis
 * server (forks reach their source's keys from the script, which a Cluster
 * does not allow).
 *
 * ```text
 * POST (producer p, epoch 1, seq 3) → EVALSHA append: check p's state, ZADD the message, HSET p → 1:3, PUBLISH
 * GET live=long-poll at the tail    → SUBSCRIBE the channel, read again on a message or at the timeout
 * ```
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createClient } from 'redis';
 * const client = createClient({ url: 'redis://127.0.0.1:6379' });
 * await client.connect();
 * const store = redisDurableLogStore(client);
 * createServer((req, res) => void writeDurableLog(req, res, { store })).listen(4437, '127.0.0.1');
 * ```
 */
export function redisDurableLogStore(client: object, options: RedisDurableLogStoreOptions = {}): DurableLogStore {
  const connection: RedisConnection = connectionOf(client);
  const prefix = options.keyPrefix ?? 'ds:';
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) throw new TypeError('redisDurableLogStore: options.keyPrefix must be a string without braces.');
  const storeTimeout = options.storeTimeout ?? 5_000;
  if (typeof storeTimeout !== 'number' || !Number.isFinite(storeTimeout) || storeTimeout < 1) throw new RangeError('redisDurableLogStore: options.storeTimeout must be a finite number, 1 or more.');
  const feeds = new ChangeFeeds(connection);
  const metaKey = (path: string) => `${prefix}{${path}}:m`;

  const run = (script: DurableLogScript, path: string, args: readonly string[]): Promise<unknown> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('redisDurableLogStore: Redis did not answer in time.')), storeTimeout);
    });
    return Promise.race([evaluate(script, path, args), late]).finally(() => clearTimeout(timer));
  };
  const evaluate = async (script: DurableLogScript, path: string, args: readonly string[]): Promise<unknown> => {
    const tail = ['1', metaKey(path), prefix, path, String(Date.now()), ...args];
    try {
      return await connection.send(metaKey(path), ['EVALSHA', script.sha, ...tail]);
    } catch (error) {
      if (!String((error as { message?: unknown } | undefined)?.message).includes('NOSCRIPT')) throw error;
      return connection.send(metaKey(path), ['EVAL', script.body, ...tail]);
    }
  };
  const refuse = (reply: readonly string[]): never => {
    throw new DurableLogError(Number(reply[1]) as 400 | 404 | 409 | 410, reply[2] ?? 'refused');
  };

  const readRaw = async (path: string, mode: 'read' | 'head', offset?: string) => {
    const reply = (await run(READ, path, [mode, String(positionOf(offset))])) as string[];
    if (reply[0] === 'none') return undefined;
    const meta = metaFrom(reply, 1);
    const messages: DurableLogMessage[] = reply.slice(7).map((member) => ({ offset: member.slice(0, 33), data: new Uint8Array(Buffer.from(member.slice(33), 'base64')) }));
    return { meta, messages };
  };

  return {
    async create(path: string, request: DurableLogCreateOptions) {
      let prefixMessage = '';
      let sourceTail = '';
      if (request.forkedFrom !== undefined && request.forkSubOffset !== undefined && request.forkSubOffset > 0) {
        const source = await readRaw(request.forkedFrom, 'read', request.forkOffset);
        if (source !== undefined && !source.meta.gone) {
          if (request.forkOffset !== undefined && request.forkOffset > source.meta.nextOffset) throw new DurableLogError(400, 'Fork offset beyond the source stream');
          const from = request.forkOffset ?? source.meta.nextOffset;
          const first = source.messages.find((message) => message.offset > from);
          prefixMessage = packed(subOffsetPrefix(first?.data, request.forkSubOffset, isJsonType(source.meta.contentType)));
          sourceTail = source.meta.nextOffset;
        }
      }
      let initial = '';
      for (let attempt = 0; attempt < 3; attempt++) {
        if (request.initialData !== undefined && request.initialData.length > 0) {
          let contentType = request.contentType;
          if (request.forkedFrom !== undefined && (contentType === undefined || contentType.trim() === '')) contentType = (await readRaw(request.forkedFrom, 'head'))?.meta.contentType;
          const data = isJsonType(contentType) ? storedJson(request.initialData, true) : request.initialData;
          initial = data.length > 0 ? packed(data) : '';
        }
        const expires = request.expiresAt === undefined ? '' : String(new Date(request.expiresAt).getTime());
        const reply = (await run(CREATE, path, [
          request.contentType ?? '',
          request.contentType === undefined || request.contentType.trim() === '' ? (request.forkedFrom === undefined ? 'application/octet-stream' : '') : mediaTypeOf(request.contentType),
          request.ttlSeconds === undefined ? '' : String(request.ttlSeconds),
          expires,
          request.expiresAt ?? '',
          request.closed === true ? '1' : '0',
          initial,
          request.forkedFrom ?? '',
          request.forkOffset ?? '',
          request.forkSubOffset === undefined ? '' : String(request.forkSubOffset),
          prefixMessage,
          sourceTail,
        ])) as string[];
        if (reply[0] === 'error') refuse(reply);
        if (reply[0] === 'retry') continue;
        return { created: reply[0] === 'created', meta: metaFrom(reply, 1) };
      }
      throw new DurableLogError(409, 'The source stream kept changing while the fork was created.');
    },

    async append(path: string, data: Uint8Array, request: DurableLogAppendOptions): Promise<DurableLogAppendResult> {
      let json = isJsonType(request.contentType);
      for (let attempt = 0; attempt < 2; attempt++) {
        const body = data.length === 0 ? '' : packed(json ? storedJson(data, false) : data);
        const { producer } = request;
        const reply = (await run(APPEND, path, [
          request.contentType === undefined ? '' : mediaTypeOf(request.contentType),
          json ? '1' : '0',
          body,
          request.close === true ? '1' : '0',
          request.streamSeq ?? '',
          producer?.id ?? '',
          producer === undefined ? '0' : String(producer.epoch),
          producer === undefined ? '0' : String(producer.seq),
          String(PRODUCER_TTL_MS),
        ])) as string[];
        switch (reply[0]) {
          case 'error':
            return refuse(reply);
          case 'retry':
            json = !json;
            continue;
          case 'appended':
            return { status: 'appended', offset: reply[1]!, closed: reply[2] === '1' };
          case 'duplicate':
            return { status: 'duplicate', lastSeq: Number(reply[1]), closed: reply[2] === '1', offset: reply[3]! };
          case 'closed':
            return { status: 'closed', offset: reply[1]! };
          case 'stale-epoch':
            return { status: 'stale-epoch', currentEpoch: Number(reply[1]) };
          case 'invalid-epoch-seq':
            return { status: 'invalid-epoch-seq' };
          case 'sequence-gap':
            return { status: 'sequence-gap', expectedSeq: Number(reply[1]), receivedSeq: Number(reply[2]) };
        }
      }
      throw new DurableLogError(409, 'Content-type mismatch');
    },

    async head(path: string) {
      return (await readRaw(path, 'head'))?.meta;
    },

    async read(path: string, offset: string | undefined) {
      return readRaw(path, 'read', offset);
    },

    async delete(path: string) {
      const reply = await run(DELETE, path, []);
      if (reply === 'gone') throw new DurableLogError(410, 'Stream is gone');
      return reply === 'deleted';
    },

    waitForChange(path: string, offset: string, timeoutMs: number, signal?: AbortSignal) {
      return new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        let stopWatching: () => void = () => undefined;
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          stopWatching();
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        signal?.addEventListener('abort', done, { once: true });
        // Wakes only on a real change: the feed also says "read again" once subscribed, or after a reconnect.
        const check = () =>
          void readRaw(path, 'head').then((found) => {
            if (found === undefined || found.meta.gone || found.meta.closed || found.meta.nextOffset !== offset) done();
          }, done);
        stopWatching = feeds.watch(`${prefix}{${path}}:c`, { next: check, error: done });
        check();
      });
    },

    async close() {
      feeds.close();
    },
  };
}
