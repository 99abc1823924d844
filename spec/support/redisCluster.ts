import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createClient } from 'redis';
import { REDIS_SERVER } from './redisServer';

/** A real three-master Redis Cluster on loopback ports, with nothing saved but its node files (in a temp dir). */
export interface RedisCluster {
  /** `127.0.0.1:port` of each master. */
  readonly nodes: readonly string[];
  /** The master (`host:port`) that serves `slot`. */
  masterOf(slot: number): string;
  stop(): Promise<void>;
}

export const REDIS_CLI = process.env.REDIS_CLI ?? join(dirname(REDIS_SERVER), 'redis-cli');

async function freePorts(count: number): Promise<number[]> {
  const probes = Array.from({ length: count }, () => createServer());
  await Promise.all(probes.map((probe) => new Promise<void>((ready) => probe.listen(0, '127.0.0.1', ready))));
  const ports = probes.map((probe) => (probe.address() as { port: number }).port);
  await Promise.all(probes.map((probe) => new Promise((closed) => probe.close(closed))));
  return ports;
}

async function answers(port: number, command: string[]): Promise<string | undefined> {
  const client = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return String(await client.sendCommand(command));
  } catch {
    return undefined;
  } finally {
    try {
      client.destroy();
    } catch {
      // Never connected.
    }
  }
}

/**
 * Starts three `redis-server --cluster-enabled yes`, joins them with
 * `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`, and
 * resolves once every node says `cluster_state:ok`.
 */
export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'relay-redis-cluster-'));
  const ports = await freePorts(3);
  const children: ChildProcess[] = ports.map((port) =>
    spawn(
      REDIS_SERVER,
      ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--dir', dir, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    ),
  );
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 30_000;
    for (const port of ports) {
      while ((await answers(port, ['PING'])) !== 'PONG') {
        if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
        await new Promise((wait) => setTimeout(wait, 50));
      }
    }
    const nodes = ports.map((port) => `127.0.0.1:${port}`);
    const created = spawnSync(REDIS_CLI, ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    for (const port of ports) {
      while (!(await answers(port, ['CLUSTER', 'INFO']))?.includes('cluster_state:ok')) {
        if (Date.now() > deadline) throw new Error(`the cluster did not reach cluster_state:ok on port ${port}`);
        await new Promise((wait) => setTimeout(wait, 100));
      }
    }
    const client = createClient({ url: `redis://${nodes[0]}` });
    client.on('error', () => undefined);
    await client.connect();
    const ranges = (await client.sendCommand(['CLUSTER', 'SLOTS'])) as Array<[number, number, [string, number]]>;
    client.destroy();
    const masterOf = (slot: number) => {
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no master for slot ${slot}`);
      return `${range[2][0]}:${range[2][1]}`;
    };
    return { nodes, masterOf, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
