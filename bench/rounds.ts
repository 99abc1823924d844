import type { Contender, Result } from './contenders.js';
import { rotate } from './stats.js';

/**
 * Runs every contender once per round, after `warmUp` rounds that are not
 * counted, rotating the order so no contender always runs first. With
 * `collect` (and `--expose-gc`), a full garbage collection runs before each
 * run; without it the runs follow each other as an app's streams do (steady
 * state). Returns ms per contender
 * and round, NaN where `ok` refused the result (a wrong answer is reported as
 * wrong, not fast).
 */
export async function rounds(
  contenders: Record<string, Contender>,
  count: number,
  run: (contender: Contender) => Promise<Result>,
  ok: (name: string, result: Result) => boolean,
  warmUp = 1,
  collect = true,
): Promise<Record<string, number[]>> {
  const names = Object.keys(contenders);
  const gc = (globalThis as { gc?: () => void }).gc;
  const times: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = -warmUp; round < count; round++) {
    for (const name of rotate(names, round + warmUp)) {
      if (collect) gc?.();
      const started = performance.now();
      const result = await run(contenders[name]!);
      const ms = performance.now() - started;
      const right = ok(name, result);
      if (round >= 0) times[name]!.push(right ? ms : NaN);
    }
  }
  return times;
}
