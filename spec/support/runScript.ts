import { spawn } from 'node:child_process';
import { ROOT } from './ensureBuilt';

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs `node script ...args` from the repository root, collecting its output; killed after `limitMs`. */
export function runScript(script: string, args: string[] = [], options: { env?: NodeJS.ProcessEnv; limitMs?: number } = {}): Promise<ScriptRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), options.limitMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}
