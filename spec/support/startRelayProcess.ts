import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './ensureBuilt';

export interface RelayProcess {
  url: string;
  child: ChildProcess;
  /** The requests it logged: `METHOD PATH LAST-EVENT-ID` (`-` for none). */
  requests(): string[];
}

/** Starts one relay process (spec/support/relayProcess.mjs) and resolves with its URL once it listens. */
export function startRelayProcess(env: NodeJS.ProcessEnv): Promise<RelayProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'spec', 'support', 'relayProcess.mjs')], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let listening = false;
    const requests = () => [...out.matchAll(/^request (.*)$/gm)].map((match) => match[1]!);
    child.stdout!.on('data', (piece: Buffer) => {
      out += piece.toString();
      const port = /listening (\d+)/.exec(out)?.[1];
      if (port && !listening) {
        listening = true;
        resolve({ url: `http://127.0.0.1:${port}`, child, requests });
      }
    });
    child.once('exit', (code) => reject(new Error(`relay process exited with ${code}`)));
  });
}
