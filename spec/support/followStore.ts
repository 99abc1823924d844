import { Subject, takeUntil } from 'rxjs';
import type { RelayLogEntry, RelayStore } from '../../src/server/index';

/** What `followStore` collected, and how often its store failed it. */
export interface Followed {
  entries: RelayLogEntry[];
  /** Errors from `changes` or `read` that the reader resumed after. */
  faults: number;
}

/**
 * Reads `streamId` as a relay reader does: a page after its position, then
 * waits for `changes`, until the terminal entry. With `resume`, a store
 * fault (an error from `changes` or `read`) is survived as a client would:
 * wait a little, then go on from the last entry it has.
 */
export async function followStore(store: RelayStore, streamId: string, options: { resume?: boolean; limit?: number; deadlineMs?: number } = {}): Promise<Followed> {
  const { resume = false, limit = 100, deadlineMs = 60_000 } = options;
  const entries: RelayLogEntry[] = [];
  let faults = 0;
  let after = 0;
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const stop = new Subject<void>();
    let wake: () => void = () => undefined;
    let failed: unknown;
    let woken = false;
    store
      .changes(streamId)
      .pipe(takeUntil(stop))
      .subscribe({
        next: () => ((woken = true), wake()),
        error: (error) => ((failed = error), wake()),
      });
    try {
      while (Date.now() < deadline && failed === undefined) {
        woken = false;
        const page = await store.read(streamId, after, limit);
        if (!page) throw new Error(`no stream ${streamId}`);
        for (const entry of page.entries) {
          entries.push(entry);
          after = entry.seq;
          if (entry.end) return { entries, faults };
        }
        if (page.entries.length === 0 && !woken && failed === undefined) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 2_000);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      }
      if (failed !== undefined) throw failed;
    } catch (error) {
      if (!resume || (error as Error).message.startsWith('no stream')) throw error;
      faults++;
      await new Promise((wait) => setTimeout(wait, 100 + Math.random() * 200));
    } finally {
      stop.next();
    }
  }
  throw new Error(`followStore: ${streamId} did not end in time (${entries.length} entries)`);
}
