/**
 * Calls `each(n)` for n = 0 … total−1, `perMs` a millisecond from now, on a
 * 1 ms timer that catches up when it runs late; with `busyMs` > 0 every tick
 * also keeps the event loop busy that many ms (other work: HTTP, readers).
 * Resolves once every call was made. Used by the Redis append benches.
 */
export function pacedCalls(total: number, perMs: number, each: (n: number) => void, busyMs = 0): Promise<void> {
  const startedAt = performance.now();
  let sent = 0;
  return new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor((performance.now() - startedAt) * perMs));
      for (; sent < due; sent++) each(sent);
      const until = performance.now() + busyMs;
      while (performance.now() < until);
      if (sent >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
}
