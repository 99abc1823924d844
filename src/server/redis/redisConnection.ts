/**
 * The few things the Redis relay store asks of a Redis client, with one small
 * adapter per client family: node-redis (`redis` 4, 5, 6; a client or a
 * cluster) and ioredis (5, 6; `Redis` or `Cluster`). Nothing is imported from
 * either package: the store works with the client it is given.
 * @internal
 */
import { keySlot } from './keySlot.js';

/** The client families the store speaks to. */
export type RedisClientKind = 'node-redis' | 'ioredis';

/** What a dedicated subscriber connection tells its owner. */
export interface SubscriberEvents {
  /** A change was published on `channel`, with its message. */
  message(channel: string, message: string): void;
  /** The connection failed or closed; it is not reopened (the owner opens a new one). */
  lost(error: unknown): void;
}

/** A dedicated connection that receives change notifications. */
export interface RedisSubscriber {
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  close(): void;
}

/** One client, as the store uses it. */
export interface RedisConnection {
  readonly kind: RedisClientKind;
  /** A Redis Cluster: scripts route by their first key, notifications are sharded (`SPUBLISH`). */
  readonly cluster: boolean;
  /** Sends one command on the client's own connection; `key` routes it in a cluster. */
  send(key: string, args: readonly string[]): Promise<unknown>;
  /** The node (`host:port`) that serves `key`'s slot; `''` for a single server. */
  nodeOf(key: string): string;
  /** Opens a subscriber connection to `node` (as `nodeOf` names it). */
  openSubscriber(node: string, events: SubscriberEvents): Promise<RedisSubscriber>;
}

type Loose = Record<string, unknown> & { [method: string]: unknown };
const noop = () => undefined;
const isFunction = (value: unknown): value is (...args: unknown[]) => unknown => typeof value === 'function';

/** Calls `method` on `target` with `args`, answering a promise whatever it returns or throws. */
function invoke(target: Loose, method: string, ...args: unknown[]): Promise<unknown> {
  try {
    return Promise.resolve((target[method] as (...a: unknown[]) => unknown)(...args));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Closes a connection the store opened, whatever state it is in; never throws. */
function closeQuietly(connection: Loose): void {
  for (const method of ['destroy', 'disconnect']) {
    if (!isFunction(connection[method])) continue;
    invoke(connection, method).catch(noop);
    return;
  }
}

/** Guards `lost` so it runs once, and hands every `'error'` event to it. */
function watchConnection(connection: Loose, events: SubscriberEvents, closeEvents: readonly string[]) {
  let done = false;
  const lost = (error: unknown) => {
    if (done) return;
    done = true;
    events.lost(error ?? new Error('connection closed'));
  };
  const on = connection['on'] as (event: string, listener: (...args: unknown[]) => void) => unknown;
  on.call(connection, 'error', (error: unknown) => lost(error));
  for (const event of closeEvents) on.call(connection, event, () => lost(new Error(`Redis connection ${event}`)));
  return { lost, closed: () => (done = true) };
}

/** Which family `client` belongs to, or `undefined`. */
export function detectKind(client: unknown): RedisClientKind | undefined {
  if (typeof client !== 'object' || client === null) return undefined;
  const loose = client as Loose;
  if (isFunction(loose['call']) && typeof loose['status'] === 'string' && isFunction(loose['duplicate'])) return 'ioredis';
  if (isFunction(loose['sendCommand']) && isFunction(loose['duplicate']) && 'isOpen' in loose) return 'node-redis';
  return undefined;
}

const WHAT = 'a connected node-redis client or cluster (redis 4, 5 or 6) or an ioredis Redis or Cluster (ioredis 5 or 6)';

/**
 * Wraps `client` for the store, after checking that it is a client of `kind`
 * and connected; a clear `TypeError` otherwise, before anything is sent.
 */
export function connectionOf(client: unknown, kind: RedisClientKind | undefined = detectKind(client)): RedisConnection {
  const found = detectKind(client);
  if (found === undefined || kind !== found) {
    throw new TypeError(
      kind === undefined || found === undefined
        ? `redisRelayStore: expected ${WHAT}, got ${describe(client)}.`
        : `redisRelayStore: the client was named "${kind}" but looks like ${found}.`,
    );
  }
  const loose = client as Loose;
  if (found === 'node-redis') {
    if (loose['isOpen'] !== true) throw new TypeError('redisRelayStore: the node-redis client is not connected; await client.connect() first.');
    watchErrors(loose);
    return isFunction(loose['getSlotMaster']) ? nodeRedisCluster(loose) : nodeRedisClient(loose);
  }
  const status = loose['status'] as string;
  if (status === 'wait' || status === 'end' || status === 'close') {
    throw new TypeError(`redisRelayStore: the ioredis client is not connected (status "${status}"); call connect() first.`);
  }
  watchErrors(loose);
  return loose['isCluster'] === true ? ioredisCluster(loose) : ioredisClient(loose);
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return value === null ? 'null' : typeof value;
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== 'Object' ? `an object of class ${name}` : 'an object that is no Redis client';
}

/**
 * Adds an `'error'` listener to the client the store was given, so that a
 * connection fault never becomes an unhandled `'error'` event that ends the
 * process; the client's own listeners still see every error.
 */
function watchErrors(client: Loose): void {
  if (watched.has(client) || !isFunction(client['on'])) return;
  watched.add(client);
  (client['on'] as (event: string, listener: () => void) => unknown).call(client, 'error', noop);
}

/** Clients that already have the store's `'error'` listener (one each, however many stores share a client). */
const watched = new WeakSet<object>();

function nodeRedisClient(client: Loose): RedisConnection {
  return {
    kind: 'node-redis',
    cluster: false,
    send: (_key, args) => invoke(client, 'sendCommand', args),
    nodeOf: () => '',
    openSubscriber: (_node, events) => nodeRedisSubscriber(client, events, false),
  };
}

function nodeRedisCluster(cluster: Loose): RedisConnection {
  const masterOf = (node: string) => {
    const masters = (cluster['masters'] ?? []) as Array<{ host: string; port: number }>;
    const master = masters.find((m) => `${m.host}:${m.port}` === node);
    if (!master) throw new Error(`no master ${node} in the cluster's slot map`);
    return master;
  };
  return {
    kind: 'node-redis',
    cluster: true,
    send: (key, args) => invoke(cluster, 'sendCommand', key, false, args),
    nodeOf: (key) => {
      const master = (cluster['getSlotMaster'] as (slot: number) => { host: string; port: number } | undefined).call(cluster, keySlot(key));
      return master ? `${master.host}:${master.port}` : '';
    },
    openSubscriber: async (node, events) => {
      const nodeClient = (await invoke(cluster, 'nodeClient', masterOf(node))) as Loose;
      return nodeRedisSubscriber(nodeClient, events, true);
    },
  };
}

async function nodeRedisSubscriber(client: Loose, events: SubscriberEvents, sharded: boolean): Promise<RedisSubscriber> {
  const options = (client['options'] ?? {}) as { socket?: object };
  // The store reopens subscribers itself (with backoff): the duplicate never reconnects on its own.
  const subscriber = (client['duplicate'] as (overrides: object) => Loose).call(client, {
    socket: { ...options.socket, reconnectStrategy: false },
  });
  const watch = watchConnection(subscriber, events, ['end']);
  try {
    await invoke(subscriber, 'connect');
  } catch (error) {
    watch.closed();
    closeQuietly(subscriber);
    throw error;
  }
  const listener = (message: unknown, channel: unknown) => events.message(String(channel), String(message));
  return {
    subscribe: async (channel) => void (await invoke(subscriber, sharded ? 'sSubscribe' : 'subscribe', channel, listener)),
    unsubscribe: async (channel) => void (await invoke(subscriber, sharded ? 'sUnsubscribe' : 'unsubscribe', channel, listener)),
    close: () => {
      watch.closed();
      closeQuietly(subscriber);
    },
  };
}

function ioredisClient(client: Loose): RedisConnection {
  return {
    kind: 'ioredis',
    cluster: false,
    send: (_key, args) => invoke(client, 'call', ...args),
    nodeOf: () => '',
    openSubscriber: (_node, events) => ioredisSubscriber(client, events, false),
  };
}

function ioredisCluster(cluster: Loose): RedisConnection {
  const nodeKey = (node: Loose) => {
    const options = node['options'] as { host?: string; port?: number };
    return `${options.host}:${options.port}`;
  };
  return {
    kind: 'ioredis',
    cluster: true,
    send: (_key, args) => invoke(cluster, 'call', ...args),
    nodeOf: (key) => ((cluster['slots'] as string[][] | undefined)?.[keySlot(key)]?.[0] ?? ''),
    openSubscriber: async (node, events) => {
      const masters = (cluster['nodes'] as (role: string) => Loose[]).call(cluster, 'master');
      const master = masters.find((candidate) => nodeKey(candidate) === node);
      if (!master) throw new Error(`no master ${node} in the cluster's slot map`);
      return ioredisSubscriber(master, events, true);
    },
  };
}

async function ioredisSubscriber(client: Loose, events: SubscriberEvents, sharded: boolean): Promise<RedisSubscriber> {
  // The store reopens subscribers itself (with backoff): the duplicate never reconnects on its own.
  const subscriber = (client['duplicate'] as (overrides: object) => Loose).call(client, {
    lazyConnect: true,
    retryStrategy: () => null,
    autoResubscribe: false,
    maxRetriesPerRequest: 0,
  });
  const watch = watchConnection(subscriber, events, ['end', 'close']);
  const on = subscriber['on'] as (event: string, listener: (channel: unknown, message: unknown) => void) => unknown;
  on.call(subscriber, sharded ? 'smessage' : 'message', (channel, message) => events.message(String(channel), String(message)));
  try {
    await invoke(subscriber, 'connect');
  } catch (error) {
    watch.closed();
    closeQuietly(subscriber);
    throw error;
  }
  return {
    subscribe: async (channel) => void (await invoke(subscriber, sharded ? 'ssubscribe' : 'subscribe', channel)),
    unsubscribe: async (channel) => void (await invoke(subscriber, sharded ? 'sunsubscribe' : 'unsubscribe', channel)),
    close: () => {
      watch.closed();
      closeQuietly(subscriber);
    },
  };
}
