import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { selectedFlavours } from './support/redisClients';
import { freePort, REDIS_SERVER, redisServerAvailable } from './support/redisServer';

const run = redisServerAvailable('redisRelayStoreFaults.spec') ? describe : describe.skip;
const ROOT = join(__dirname, '..');

/** redis-server on `port`, writing every command to its AOF in `dir` at once, so a SIGKILL loses nothing it acknowledged. */
async function startDurableRedis(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const probe = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      // Loading the AOF answers LOADING: wait until PING works.
      await probe.ping();
      probe.destroy();
      return child;
    } catch {
      try {
        probe.destroy();
      } catch {
        // Never connected.
      }
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error(`redis-server did not start on port ${port}`);
      }
      await new Promise((wait) => setTimeout(wait, 50));
    }
  }
}

const killed = (child: ChildProcess) =>
  new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGKILL');
  });

run('redisRelayStore under a Redis fault (SIGKILL redis-server, restart on the same port)', () => {
  it.each(selectedFlavours().map((flavour) => [flavour.name] as const))(
    '%s: the process lives (tripwire), readers resume, the producer retries in order, every reader gets the exact log',
    async (name) => {
      const dir = mkdtempSync(join(tmpdir(), 'relay-redis-fault-'));
      const port = await freePort();
      let redis = await startDurableRedis(port, dir);
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'spec', 'support', 'redisStoreFaultChild.ts')], {
        cwd: ROOT,
        env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${port}`, FLAVOUR: name, EVENTS: '60' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout!.on('data', (piece: Buffer) => (out += piece.toString()));
      child.stderr!.on('data', (piece: Buffer) => (err += piece.toString()));
      const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
      try {
        const waitFor = async (text: string) => {
          for (let i = 0; i < 1_200 && !out.includes(text); i++) {
            if (child.exitCode !== null) throw new Error(`child exited early: ${out}\n${err}`);
            await new Promise((wait) => setTimeout(wait, 50));
          }
          if (!out.includes(text)) throw new Error(`child never printed "${text}": ${out}\n${err}`);
        };
        await waitFor('progress 10');
        await killed(redis);
        await new Promise((wait) => setTimeout(wait, 1_500));
        redis = await startDurableRedis(port, dir);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const code = await Promise.race([exited, new Promise<'timeout'>((done) => (timer = setTimeout(() => done('timeout'), 150_000)))]);
        clearTimeout(timer);
        expect(out).not.toContain('TRIPWIRE');
        expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' });
        const result = JSON.parse(/^RESULT (.*)$/m.exec(out)![1]!) as { exact: boolean; writeFailures: number; readerFaults: number[] };
        process.stdout.write(`${name}: after SIGKILL + restart: write failures retried ${result.writeFailures}, reader faults resumed ${JSON.stringify(result.readerFaults)}\n`);
        expect(result.exact).toBe(true);
        // The remote readers (3 of every 5) saw the fault and resumed; the local ones read from memory.
        expect(result.readerFaults.filter((faults, k) => k % 5 >= 2 && faults > 0).length).toBeGreaterThan(0);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        await killed(redis);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    200_000,
  );
});
