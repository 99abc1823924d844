import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { createClient } from 'redis';

/** A real `redis-server` on a free loopback port, with nothing saved to disk. */
export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Kills it with SIGKILL (no shutdown, no goodbye to clients). */
  kill(): Promise<void>;
}

/** Debian's `redis-server` (.ci/run installs it when missing). */
export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

/**
 * Whether the Redis specs can run: redis-server is installed, or this is CI,
 * where its absence must fail the run rather than leave the specs out.
 * Elsewhere they are left out with one line saying why.
 */
export function redisServerAvailable(who: string): boolean {
  if (existsSync(REDIS_SERVER) || process.env.CI) return true;
  process.stdout.write(`${who}: ${REDIS_SERVER} not found, so the Redis cases do not run here (apt-get install redis-server; CI installs it).\n`);
  return false;
}

/**
 * Ports for servers the specs start and may kill and restart on the same
 * port: below Linux's ephemeral range (32768–60999), so no port the system
 * hands out meanwhile (another spec's `listen(0)`) can take one while its
 * server is down, and a block of its own per Jest worker, so that parallel
 * spec files never pick the same one.
 */
const PORT_BLOCK_START = 20_000;
const PORT_BLOCK_SIZE = 500;
const PORT_BLOCKS = 24;
let portsHandedOut = 0;

/** Whether a loopback server can listen on `port` now. */
function canListen(port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((answer) => {
    probe.once('error', () => answer(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => answer(true)));
  });
}

/** A loopback port nothing listens on, from this Jest worker's block (see `PORT_BLOCK_START`). */
export async function freePort(): Promise<number> {
  const worker = Number(process.env.JEST_WORKER_ID ?? 1);
  const block = PORT_BLOCK_START + ((Math.max(1, worker) - 1) % PORT_BLOCKS) * PORT_BLOCK_SIZE;
  for (let tries = 0; tries < PORT_BLOCK_SIZE; tries++) {
    const port = block + (portsHandedOut++ % PORT_BLOCK_SIZE);
    if (await canListen(port)) return port;
  }
  throw new Error(`freePort: no free loopback port in ${block}–${block + PORT_BLOCK_SIZE - 1}`);
}

/** Starts redis-server (on `port`, e.g. to restart a killed one, or a free one) and resolves once it answers PING; `stop()` kills it. */
export async function startRedisServer(options: { port?: number } = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const child: ChildProcess = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const client = createClient({ url, socket: { reconnectStrategy: false } });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      client.destroy();
      break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error(`redis-server did not start on ${url}`);
      }
      await new Promise((wait) => setTimeout(wait, 50));
    }
  }
  return {
    url,
    port,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
