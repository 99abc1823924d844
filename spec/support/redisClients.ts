import { Cluster as IoredisCluster, Redis as Ioredis } from 'ioredis';
import { Cluster as Ioredis6Cluster, Redis as Ioredis6 } from 'ioredis6';
import { createClient as createClient5, createCluster as createCluster5 } from 'redis';
import { createClient as createClient4, createCluster as createCluster4 } from 'redis4';
import { createClient as createClient6, createCluster as createCluster6 } from 'redis6';

/** A connected client of one family and protocol, and how to close it. */
export interface TestClient {
  readonly client: object;
  close(): Promise<void>;
}

/** One client the store supports, as CI runs it. */
export interface ClientFlavour {
  /** e.g. `node-redis 6 RESP3`. */
  readonly name: string;
  readonly kind: 'node-redis' | 'ioredis';
  /** A client of `url`; `name` is its connection name (CLIENT SETNAME), which its duplicates keep. */
  connect(url: string, name?: string): Promise<TestClient>;
  /** A cluster client over the given `host:port` masters. */
  connectCluster(nodes: readonly string[]): Promise<TestClient>;
}

const hostPort = (node: string) => {
  const [host, port] = node.split(':');
  return { host: host!, port: Number(port) };
};

function nodeRedis(name: string, create: typeof createClient5 | typeof createClient4 | typeof createClient6, cluster: unknown, resp: 2 | 3 | undefined): ClientFlavour {
  const protocol = resp === undefined ? {} : { RESP: resp };
  return {
    name,
    kind: 'node-redis',
    async connect(url, connectionName) {
      const client = (create as (options: object) => { connect(): Promise<unknown>; on(event: string, l: () => void): unknown; destroy?: () => void; disconnect(): Promise<void> })({
        url,
        ...protocol,
        ...(connectionName === undefined ? {} : { name: connectionName }),
      });
      client.on('error', () => undefined);
      await client.connect();
      return { client, close: async () => void (client.destroy ? client.destroy() : await client.disconnect().catch(() => undefined)) };
    },
    async connectCluster(nodes) {
      const client = (cluster as (options: object) => { connect(): Promise<unknown>; on(event: string, l: () => void): unknown; destroy?: () => void; disconnect(): Promise<void> })({
        rootNodes: nodes.map((node) => ({ url: `redis://${node}` })),
        defaults: protocol,
        ...protocol,
      });
      client.on('error', () => undefined);
      await client.connect();
      return { client, close: async () => void (client.destroy ? client.destroy() : await client.disconnect().catch(() => undefined)) };
    },
  };
}

function ioredis(name: string, Redis: typeof Ioredis | typeof Ioredis6, Cluster: typeof IoredisCluster | typeof Ioredis6Cluster): ClientFlavour {
  return {
    name,
    kind: 'ioredis',
    async connect(url, connectionName) {
      const client = new (Redis as typeof Ioredis)(url, { lazyConnect: true, ...(connectionName === undefined ? {} : { connectionName }) });
      client.on('error', () => undefined);
      await client.connect();
      return { client, close: async () => client.disconnect() };
    },
    async connectCluster(nodes) {
      const client = new (Cluster as typeof IoredisCluster)(nodes.map(hostPort), { lazyConnect: true });
      client.on('error', () => undefined);
      await client.connect();
      return { client, close: async () => client.disconnect() };
    },
  };
}

/** Every client × protocol CI tests the store with (package.json's peer ranges are these majors). */
export const CLIENT_FLAVOURS: readonly ClientFlavour[] = [
  nodeRedis('node-redis 4 RESP2', createClient4, createCluster4, undefined),
  nodeRedis('node-redis 5 RESP2', createClient5, createCluster5, 2),
  nodeRedis('node-redis 5 RESP3', createClient5, createCluster5, 3),
  nodeRedis('node-redis 6 RESP2', createClient6, createCluster6, 2),
  nodeRedis('node-redis 6 RESP3', createClient6, createCluster6, undefined),
  ioredis('ioredis 5', Ioredis, IoredisCluster),
  ioredis('ioredis 6', Ioredis6, Ioredis6Cluster),
];

/** The flavours named by `REDIS_CLIENT` (a comma-separated list of substrings), or all. */
export function selectedFlavours(): readonly ClientFlavour[] {
  const wanted = process.env.REDIS_CLIENT?.split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
  if (!wanted?.length) return CLIENT_FLAVOURS;
  return CLIENT_FLAVOURS.filter((flavour) => wanted.some((name) => flavour.name.toLowerCase().includes(name)));
}
