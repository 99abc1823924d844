/** The processes of `npm run bench:relay`: two relay instances and the clients, each its own Node process, spoken to over IPC. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** Starts `node [--expose-gc] --import tsx bench/<file>` with an IPC channel; stderr passes through. */
function startTs(file: string, env: NodeJS.ProcessEnv, exposeGc: boolean): ChildProcess {
  const flags = exposeGc ? ['--expose-gc'] : [];
  const profileDir = process.env.BENCH_CPU_PROF;
  if (profileDir && file === 'relayServer.ts') flags.push('--cpu-prof', '--cpu-prof-dir', profileDir);
  return spawn(process.execPath, [...flags, '--import', 'tsx', join(__dirname, file)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
}

/** Resolves with the next IPC message of `type` from `child` (rejects if it exits first). */
export function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type?: string; message?: string }) => {
      if (message.type === type) {
        cleanUp();
        resolve(message as T);
      } else if (message.type === 'error') {
        cleanUp();
        reject(new Error(message.message));
      }
    };
    const onExit = (code: number | null) => {
      cleanUp();
      reject(new Error(`${type}: the process exited with ${code}`));
    };
    const cleanUp = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Sends `message` and resolves with the answer of `type`. */
export function ask<T>(child: ChildProcess, message: object, type: string): Promise<T> {
  const answer = nextMessage<T>(child, type);
  child.send(message);
  return answer;
}

export interface RelayInstance {
  name: string;
  url: string;
  child: ChildProcess;
  /** The process's heap (after a GC when `gc`) and its CPU time so far, µs; `run` names the run just measured, for its trace lines (`BENCH_TRACE_HOPS`). */
  stats(gc: boolean, run?: string): Promise<{ heapUsed: number; cpuMicros: number }>;
}

/** Starts one relay instance (bench/relayServer.ts) and resolves once it listens. */
export function startRelayInstance(name: string, env: NodeJS.ProcessEnv): Promise<RelayInstance> {
  const child = startTs('relayServer.ts', { ...env, INSTANCE: name }, true);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`relay ${name} did not listen within 120 s`)), 120_000);
    child.stdout!.on('data', (piece: Buffer) => {
      out += piece.toString();
      const port = /listening (\d+)/.exec(out)?.[1];
      if (!port) return;
      clearTimeout(timer);
      resolve({
        name,
        url: `http://127.0.0.1:${port}`,
        child,
        stats: (gc, run) => ask(child, { type: 'stats', gc, run }, 'stats'),
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay ${name} exited with ${code}`));
    });
  });
}

/** Starts the clients' process (bench/relayClients.ts) and resolves once it is ready. */
export async function startClients(): Promise<ChildProcess> {
  const child = startTs('relayClients.ts', {}, false);
  await nextMessage(child, 'ready');
  return child;
}

/** Stops a child this bench started (its own pid only). */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (!process.env.BENCH_CPU_PROF) {
    child.kill('SIGKILL');
    return;
  }
  // A profiled instance exits by itself once its IPC channel closes, writing its profile.
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.disconnect();
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
  child.kill('SIGKILL');
}
