import { concatMap, defer, lastValueFrom, map, retry, Subject, takeUntil, tap, throwError, timer, type Observable, type SchedulerLike } from 'rxjs';
import { streamStartOf } from '../streamStart.js';
import { appendInBatches } from './appendInBatches.js';
import type { RelayReporter } from './relayActivity.js';
import { relayErrorEvent } from './relayErrorEvent.js';
import { producerStops, type ProducerStop } from './producerStops.js';
import { RelayLeaseLostError, RelayLogFullError, type RelayEvent, type RelayLease, type RelayStore } from './relayStore.js';

/** What runs one stream's producer. */
export interface RelayProducerOptions<T> {
  readonly store: RelayStore;
  readonly lease: RelayLease;
  readonly source: Observable<T>;
  readonly toEvent: (value: T) => RelayEvent;
  readonly resumePoint: ((value: T) => string | undefined) | undefined;
  /** The `seq` of the log's last entry when this producer claimed it (0 for a new log). */
  readonly lastSeq: number;
  /** This producer took the log over: its first value continues it only when marked `resumed: true`. */
  readonly takeover: boolean;
  readonly ttlAfterEnd: number;
  readonly abandonAfter: number;
  readonly exposeErrors: boolean;
  readonly scheduler: SchedulerLike;
  readonly reporter: RelayReporter;
}

/** A running producer. */
export interface RelayProducer {
  /** Resolves once the producer stopped: the log ended, its lease was lost or released. */
  readonly stopped: Promise<void>;
  /** Stops the source (aborting the provider request), writes what is queued, then releases the lease without a terminal entry. */
  handOver(): Promise<void>;
}

/** The terminal event of a stream whose provider request was aborted because no client was reading. */
const CANCELLED: RelayEvent = { event: 'cancelled', data: '{"reason":"no client read the stream for abandonAfter ms"}' };
const DONE_EVENT: RelayEvent = { event: 'done', data: '[DONE]' };

/** A value as it is stored: its event, and the resume point it carries. */
interface Stored {
  readonly event: RelayEvent;
  readonly resume: string | undefined;
}

/**
 * Runs `source` into the log `lease` holds: values go out in batches (one
 * append in flight, in order), each append fenced by the lease, which is
 * renewed every third of `leaseMs`. A store error is retried in order with
 * backoff for up to `leaseMs` (an append whose reply was lost is not
 * written twice: the log's `lastSeq` says whether it landed); after that the
 * lease is released without a terminal entry, so another instance takes
 * over. A lost lease stops the source and writes nothing more. A full log
 * (`RelayLogFullError`) ends with an error entry saying so. The source's end
 * is a `done` entry; its error an `error` entry (generic unless
 * `exposeErrors`); abandonment (no client read for `abandonAfter`) a
 * `cancelled` entry.
 *
 * ```text
 * source:  -a-b-c-|
 * appends: -[a]-[b,c]-(end: done)
 * lease:   --r--r--r              r: renewed; f: lost → source unsubscribed, nothing written
 * ```
 *
 * @example
 * ```ts
 * const producer = runRelayProducer({ store, lease, source, toEvent, resumePoint: undefined, lastSeq: 0, takeover: false, ... });
 * await producer.handOver(); // on shutdown
 * ```
 */
export function runRelayProducer<T>(options: RelayProducerOptions<T>): RelayProducer {
  const { store, lease, source, toEvent, resumePoint, takeover, ttlAfterEnd, abandonAfter, exposeErrors, scheduler, reporter } = options;
  const { streamId, leaseMs } = lease;
  let lastSeq = options.lastSeq;
  let stop: ProducerStop | undefined;
  let appendFailure: unknown;
  const handOver$ = new Subject<void>();
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));

  /** Whether a store error is worth another try: a lost lease or a full log is not. */
  const retryable = (error: unknown) => !(error instanceof RelayLeaseLostError || error instanceof RelayLogFullError);
  /**
   * A store call retried with backoff for up to `leaseMs` (from `since`); a
   * lost lease or a full log is not retried. With `failed`, the first try
   * already failed with it: it is reported and the next try waits its backoff.
   */
  const withRetry = <R>(operation: string, call: (attempt: number) => Promise<R>, failed?: { error: unknown; since: number }): Observable<R> => {
    const since = failed?.since ?? Date.now();
    const skipped = failed ? 1 : 0;
    let attempt = skipped;
    const backoff = (error: unknown, count: number): Observable<unknown> => {
      if (!retryable(error)) return throwError(() => error);
      reporter.storeError(operation, error, streamId);
      if (Date.now() - since >= leaseMs) return throwError(() => error);
      return timer(Math.min(1_000, 25 * 2 ** Math.min(count, 10)), scheduler);
    };
    const tries = defer(() => call(attempt++)).pipe(retry({ delay: (error: unknown, count) => backoff(error, count + skipped) }));
    return failed ? backoff(failed.error, 1).pipe(concatMap(() => tries)) : tries;
  };

  const landed = (seq: number, entries: number) => {
    lastSeq = seq;
    if (reporter.listening) reporter.activity({ type: 'appended', streamId, entries });
  };
  const appendFailed = (error: unknown): never => {
    appendFailure = error;
    throw error;
  };
  /** Appends one batch. The common case, an append that lands at once, costs the store's promise and one `then`. */
  const append = (batch: readonly Stored[]): Promise<void> => {
    const before = lastSeq;
    const events = batch.length === 1 ? [batch[0]!.event] : batch.map((stored) => stored.event);
    let resume: string | undefined;
    for (let i = 0; i < batch.length; i++) resume = batch[i]!.resume ?? resume;
    const since = Date.now();
    let appended: Promise<number>;
    try {
      appended = store.append(lease, events, resume);
    } catch (error: unknown) {
      appended = Promise.reject(error);
    }
    return appended.then(
      (seq) => landed(seq, events.length),
      (error: unknown) => appendAgain(error, since, before, events, resume),
    );
  };
  /** A failed append, retried in order (the retry chain is built only now); an earlier try whose reply was lost is not written twice. */
  const appendAgain = (error: unknown, since: number, before: number, events: readonly RelayEvent[], resume: string | undefined): Promise<void> => {
    if (!retryable(error)) return appendFailed(error);
    const call = async (): Promise<number> => {
      // The earlier attempt may have landed before its reply was lost: only this lease writes the log.
      const state = await store.state(streamId);
      if (state && state.log === lease.log && state.lastSeq >= before + events.length) return state.lastSeq;
      return store.append(lease, events, resume);
    };
    return lastValueFrom(withRetry('append', call, { error, since })).then((seq) => landed(seq, events.length), appendFailed);
  };

  const stops$ = producerStops({ store, lease, abandonAfter, handOver: handOver$, scheduler, reporter }).pipe(tap((reason) => (stop = reason)));

  const stored$ = defer(() => {
    let written = options.lastSeq > 0;
    let first = true;
    return source.pipe(
      map((value): Stored => {
        const start = streamStartOf(value);
        const restart = first && takeover ? written && start?.resumed !== true : written && start?.resumed === false;
        first = false;
        written = true;
        const event = toEvent(value);
        const stored: Stored = { event: restart ? { ...event, event: 'restart' } : event, resume: resumePoint?.(value) };
        // A store that serves this instance's readers from memory shows each value at once, not after its append's round trip.
        store.offer?.(lease, [stored.event]);
        return stored;
      }),
      // Once stopped, the source is unsubscribed: nothing more is shown or stored.
      takeUntil(stops$),
    );
  });

  const finish = (event: RelayEvent, outcome: 'done' | 'error' | 'cancelled' | 'full') =>
    withRetry('end', () => store.end(lease, event, ttlAfterEnd)).subscribe({
      complete: () => {
        reporter.activity({ type: 'ended', streamId, outcome });
        resolveStopped();
      },
      error: (error: unknown) => giveUp(error),
    });
  /** Nothing more can be written: release the lease (best effort) so that another instance takes over. */
  const giveUp = (error: unknown) => {
    if (error instanceof RelayLeaseLostError) reporter.activity({ type: 'leaseLost', streamId });
    else
      void store.release(lease).catch((failure: unknown) => reporter.storeError('release', failure, streamId));
    resolveStopped();
  };

  stored$.pipe(appendInBatches(append)).subscribe({
    complete: () => {
      if (stop === 'leaseLost') {
        reporter.activity({ type: 'leaseLost', streamId });
        resolveStopped();
      } else if (stop === 'handOver') {
        store.release(lease).then(
          () => {
            reporter.activity({ type: 'handedOver', streamId });
            resolveStopped();
          },
          (error: unknown) => {
            reporter.storeError('release', error, streamId);
            resolveStopped();
          },
        );
      } else if (stop === 'abandoned') finish(CANCELLED, 'cancelled');
      else finish(DONE_EVENT, 'done');
    },
    error: (error: unknown) => {
      if (appendFailure === undefined) {
        // The source failed: the provider's error, stored for browsers without its details.
        reporter.error(error, streamId);
        finish(relayErrorEvent(error, { expose: exposeErrors, final: true }), 'error');
      } else if (appendFailure instanceof RelayLogFullError) {
        reporter.error(appendFailure, streamId);
        finish(relayErrorEvent(appendFailure, { expose: true, final: true }), 'full');
      } else {
        giveUp(appendFailure);
      }
    },
  });

  return {
    stopped,
    handOver() {
      handOver$.next();
      handOver$.complete();
      // A store that does not answer (an append in flight that never returns) does not hold the shutdown past one lease.
      const overdue = setTimeout(() => {
        void store.release(lease).catch((error: unknown) => reporter.storeError('release', error, streamId));
        resolveStopped();
      }, leaseMs);
      (overdue as { unref?: () => void }).unref?.();
      return stopped.finally(() => clearTimeout(overdue));
    },
  };
}
