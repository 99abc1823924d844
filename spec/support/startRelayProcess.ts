import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './ensureBuilt';

export interface RelayProcess {
  url: string;
  child: ChildProcess;
  /** The requests it logged: `METHOD PATH LAST-EVENT-ID` (`-` for none). */
  requests(): string[];
  /** The relay activities it logged (`onActivity`), parsed. */
  activities(): Array<Record<string, unknown> & { type: string }>;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with the exit code (or signal) once it exited. */
  exited: Promise<number | string>;
}

/** Starts one relay process (spec/support/relayProcess.mjs) and resolves with its URL once it listens. */
export function startRelayProcess(env: NodeJS.ProcessEnv): Promise<RelayProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'spec', 'support', 'relayProcess.mjs')], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return new Promise((resolve, reject) => {
    let out = '';
    let listening = false;
    const requests = () => [...out.matchAll(/^request (.*)$/gm)].map((match) => match[1]!);
    const activities = () => [...out.matchAll(/^activity (.*)$/gm)].map((match) => JSON.parse(match[1]!) as Record<string, unknown> & { type: string });
    child.stdout!.on('data', (piece: Buffer) => {
      out += piece.toString();
      const port = /listening (\d+)/.exec(out)?.[1];
      if (port && !listening) {
        listening = true;
        resolve({ url: `http://127.0.0.1:${port}`, child, requests, activities, output: () => out, exited });
      }
    });
    child.once('exit', (code) => {
      if (!listening) reject(new Error(`relay process exited with ${code}: ${out.slice(-500)}`));
    });
  });
}
