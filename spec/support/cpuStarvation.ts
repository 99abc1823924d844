import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** Sibling processes that keep CPU cores busy, to starve this process of CPU. */
export interface BusySiblings {
  readonly pids: readonly number[];
  /** Kills every sibling (by its own handle) and waits until each has exited. */
  stop(): Promise<void>;
}

/**
 * Starts `count` Node processes that spin in a tight loop. Each stops by itself
 * after `limitMs`, so nothing outlives a crashed test run for long; `stop()`
 * ends them sooner.
 */
export async function startBusySiblings(count: number, limitMs: number): Promise<BusySiblings> {
  const spin = `const end = Date.now() + ${Math.round(limitMs)}; process.stdout.write('spinning\\n'); while (Date.now() < end) {}`;
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    children.push(spawn(process.execPath, ['-e', spin], { stdio: ['ignore', 'pipe', 'ignore'] }));
  }
  // Wait until each is running, so the starvation is in place before the first request.
  await Promise.all(children.map((child) => once(child.stdout!, 'data')));
  return {
    pids: children.map((child) => child.pid!),
    stop: async () => {
      await Promise.all(
        children.map(async (child) => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = once(child, 'exit');
          child.kill('SIGKILL');
          await exited;
        }),
      );
    },
  };
}

/** Blocks the event loop for `ms` milliseconds: a subscriber doing heavy synchronous work. */
export function blockEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}
