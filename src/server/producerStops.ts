import { Observable, type SchedulerAction, type SchedulerLike } from 'rxjs';
import type { RelayReporter } from './relayActivity.js';
import { RelayLeaseLostError, type RelayLease, type RelayStore } from './relayStore.js';

/** Why a producer stops before its source ends. */
export type ProducerStop = 'abandoned' | 'leaseLost' | 'handOver';

/** What `producerStops` watches. */
export interface ProducerStopsOptions {
  readonly store: RelayStore;
  readonly lease: RelayLease;
  /** No client read for this long (ms): `abandoned`. `Infinity`: never checked. */
  readonly abandonAfter: number;
  /** Emits when the relay hands the stream over (shutdown). */
  readonly handOver: Observable<void>;
  readonly scheduler: SchedulerLike;
  readonly reporter: RelayReporter;
}

/**
 * Emits once, then completes, when a producer must stop: its lease was lost
 * (`leaseLost`: a renewal, every third of `leaseMs`, answered `false` or
 * `RelayLeaseLostError`), no client read the stream for `abandonAfter`
 * (`abandoned`: `lastSeen`, checked every third of it, counted from this
 * producer's start when no client read it since: a stream nobody ever reads
 * is abandoned too, without a write to start the count), or the relay hands
 * the stream over (`handOver`). A renewal or check still in flight at the
 * next tick skips that tick; one that fails otherwise (the store
 * unreachable) is reported and tried again at the next tick: bookkeeping
 * never cuts a healthy stream by itself.
 *
 * It is one scheduled action per check, not an `interval` chain: a producer
 * lives as long as its stream, and at a thousand streams each operator it
 * keeps is memory that every garbage collection walks (docs/performance.md).
 *
 * ```text
 * renew:     ---t----t----f          t: renewed, f: false (another producer took over)
 * result:    -------------(l|)       l: 'leaseLost'
 * renew:     ---t----#----t--        #: store error, reported, ignored
 * result:    ----------------
 * lastSeen:  ------s------o          s: read recently, o: older than abandonAfter
 * result:    -------------(a|)       a: 'abandoned'
 * ```
 *
 * @example
 * ```ts
 * source.pipe(takeUntil(producerStops({ store, lease, abandonAfter: 30_000, handOver: handOver$, scheduler, reporter })));
 * ```
 */
export function producerStops(options: ProducerStopsOptions): Observable<ProducerStop> {
  const { store, lease, abandonAfter, handOver, scheduler, reporter } = options;
  const { streamId } = lease;
  return new Observable<ProducerStop>((subscriber) => {
    const stop = (reason: ProducerStop) => {
      subscriber.next(reason);
      subscriber.complete();
    };
    // An answer that comes after the end (the subscriber gone, or stopped for another reason) is ignored.
    const whileOpen =
      <A>(handle: (value: A) => void) =>
      (value: A) => {
        if (!subscriber.closed) handle(value);
      };
    const renewed = whileOpen((held: boolean) => (held ? undefined : stop('leaseLost')));
    const renewFailed = whileOpen((error: unknown) => (error instanceof RelayLeaseLostError ? stop('leaseLost') : reporter.storeError('renew', error, streamId)));
    const startedAt = Date.now();
    const seen = whileOpen((at: number | undefined) => (Date.now() - Math.max(at ?? 0, startedAt) >= abandonAfter ? stop('abandoned') : undefined));
    const seenFailed = whileOpen((error: unknown) => reporter.storeError('lastSeen', error, streamId));
    subscriber.add(every(scheduler, Math.max(1, Math.floor(lease.leaseMs / 3)), () => store.renew(lease), renewed, renewFailed));
    if (abandonAfter !== Infinity) subscriber.add(every(scheduler, Math.max(1, Math.floor(abandonAfter / 3)), () => store.lastSeen(streamId), seen, seenFailed));
    subscriber.add(handOver.subscribe(() => stop('handOver')));
  });
}

/** Calls `call` every `period` ms, skipping a tick while the previous call is in flight; what it throws counts as a failure. */
function every<R>(scheduler: SchedulerLike, period: number, call: () => Promise<R>, answered: (value: R) => void, failed: (error: unknown) => void) {
  let inFlight = false;
  const settled = (value: R) => {
    inFlight = false;
    answered(value);
  };
  const rejected = (error: unknown) => {
    inFlight = false;
    failed(error);
  };
  return scheduler.schedule(function tick(this: SchedulerAction<void>) {
    this.schedule(undefined, period);
    if (inFlight) return;
    inFlight = true;
    try {
      call().then(settled, rejected);
    } catch (error: unknown) {
      rejected(error);
    }
  }, period);
}
