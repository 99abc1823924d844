import { Observable, type OperatorFunction } from 'rxjs';

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
 * values.pipe(appendInBatches((batch) => store.append(lease, batch))).subscribe();
 * ```
 */
export function appendInBatches<T>(write: (batch: T[]) => PromiseLike<unknown>): OperatorFunction<T, never> {
  return (source) =>
    new Observable<never>((subscriber) => {
      let queue: T[] = [];
      let writing = false;
      let ended: { error?: unknown; failed: boolean } | undefined;
      // A write is a promise (one per batch, nothing to unsubscribe): what it answers after the end is ignored.
      const written = () => {
        writing = false;
        flush();
      };
      const failed = (error: unknown) => subscriber.error(error);
      const flush = (): void => {
        if (writing || subscriber.closed) return;
        if (queue.length === 0) {
          if (ended) (ended.failed ? subscriber.error(ended.error) : subscriber.complete());
          return;
        }
        const batch = queue;
        queue = [];
        writing = true;
        write(batch).then(written, failed);
      };
      return source.subscribe({
        next: (value) => {
          // The usual case, nothing queued: a batch of exactly this value, no array to grow.
          if (queue.length === 0) queue = [value];
          else queue.push(value);
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
      });
    });
}
