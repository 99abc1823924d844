import { Observable, Subscription, type OperatorFunction } from 'rxjs';

/**
 * Writes values in batches, one write at a time, in order: the values that
 * arrive while a write is in flight go out together in the next one. When
 * the source ends, what is queued is written first, then the source's
 * completion or error is passed on. A failed write errors the result (and
 * unsubscribes the source).
 *
 * ```text
 * source:  -a-b-c-------d-|
 * writes:  -[a]---[b,c]-[d]|     each write takes a while; b and c wait together
 * result:  ---------------|
 * ```
 *
 * @example
 * ```ts
 * values.pipe(appendInBatches((batch) => from(store.append(lease, batch)))).subscribe();
 * ```
 */
export function appendInBatches<T>(write: (batch: T[]) => Observable<unknown>): OperatorFunction<T, never> {
  return (source) =>
    new Observable<never>((subscriber) => {
      const subscriptions = new Subscription();
      let queue: T[] = [];
      let writing = false;
      let ended: { error?: unknown; failed: boolean } | undefined;
      const flush = (): void => {
        if (writing) return;
        if (queue.length === 0) {
          if (ended) (ended.failed ? subscriber.error(ended.error) : subscriber.complete());
          return;
        }
        const batch = queue;
        queue = [];
        writing = true;
        let done = false;
        let written: Subscription | undefined = undefined;
        written = write(batch).subscribe({
          error: (error: unknown) => subscriber.error(error),
          complete: () => {
            done = true;
            // A finished append holds nothing: dropped, so a long stream does not pile up one subscription per append.
            if (written) subscriptions.remove(written);
            writing = false;
            flush();
          },
        });
        if (!done) subscriptions.add(written);
      };
      subscriptions.add(
        source.subscribe({
          next: (value) => {
            queue.push(value);
            flush();
          },
          error: (error: unknown) => {
            ended = { error, failed: true };
            flush();
          },
          complete: () => {
            ended = { failed: false };
            flush();
          },
        }),
      );
      return subscriptions;
    });
}
