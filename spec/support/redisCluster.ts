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
  /** `127.0.0.1:port` of the replica of the first master (its master after an odd number of failovers), when one was asked for. */
  readonly replica?: string | undefined;
  /** The master (`host:port`) that serves `slot`, as CLUSTER SLOTS said at start-up. */
  masterOf(slot: number): string;
  /**
   * A manual failover (`CLUSTER FAILOVER` on the replica: it waits until the
   * replica caught up, so nothing acknowledged is lost); resolves once the
   * replica is master and every node says `cluster_state:ok`.
   */
  failover(): Promise<void>;
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
export async function startRedisCluster(options: { replica?: boolean } = {}): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'relay-redis-cluster-'));
  const ports = await freePorts(options.replica ? 4 : 3);
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
    const nodes = ports.slice(0, 3).map((port) => `127.0.0.1:${port}`);
    const created = spawnSync(REDIS_CLI, ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    const clusterOk = async (within: number) => {
      const until = Date.now() + within;
      for (const port of ports) {
        while (!(await answers(port, ['CLUSTER', 'INFO']))?.includes('cluster_state:ok')) {
          if (Date.now() > until) throw new Error(`the cluster did not reach cluster_state:ok on port ${port}`);
          await new Promise((wait) => setTimeout(wait, 100));
        }
      }
    };
    let replica: string | undefined;
    if (options.replica) {
      replica = `127.0.0.1:${ports[3]}`;
      const masterId = (await answers(ports[0]!, ['CLUSTER', 'MYID']))!;
      const added = spawnSync(REDIS_CLI, ['--cluster', 'add-node', replica, nodes[0]!, '--cluster-slave', '--cluster-master-id', masterId], { encoding: 'utf8', timeout: 60_000 });
      if (added.status !== 0) throw new Error(`redis-cli --cluster add-node failed: ${added.stdout}${added.stderr}`);
      while (!(await answers(ports[3]!, ['INFO', 'replication']))?.includes('master_link_status:up')) {
        if (Date.now() > deadline) throw new Error('the replica did not sync');
        await new Promise((wait) => setTimeout(wait, 100));
      }
    }
    await clusterOk(Math.max(1_000, deadline - Date.now()));
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
    const failover = async () => {
      if (!replica) throw new Error('no replica');
      // Whichever of the first master and its replica is the replica now takes over (failovers alternate).
      const port = (await answers(ports[3]!, ['ROLE']))?.startsWith('master') ? ports[0]! : ports[3]!;
      const until = Date.now() + 90_000;
      // A manual failover needs a replica in sync, and gives up after a few seconds on a busy machine: try again then.
      for (let attempt = 1; ; attempt++) {
        while (!(await answers(port, ['INFO', 'replication']))?.includes('master_link_status:up')) {
          if (Date.now() > until) throw new Error('the replica is not in sync with its master');
          await new Promise((wait) => setTimeout(wait, 100));
        }
        if ((await answers(port, ['CLUSTER', 'FAILOVER'])) !== 'OK') throw new Error('CLUSTER FAILOVER refused');
        const attemptUntil = Date.now() + 15_000;
        while (!(await answers(port, ['ROLE']))?.startsWith('master') && Date.now() < attemptUntil) await new Promise((wait) => setTimeout(wait, 100));
        if ((await answers(port, ['ROLE']))?.startsWith('master')) break;
        if (attempt >= 4 || Date.now() > until) throw new Error('the replica did not become master');
      }
      await clusterOk(30_000);
    };
    return { nodes, replica, masterOf, failover, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
