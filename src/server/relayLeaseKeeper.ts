import { catchError, EMPTY, exhaustMap, filter, from, interval, map, of, take, type Observable, type SchedulerLike } from 'rxjs';
import type { RelayReporter } from './relayActivity.js';
import { RelayLeaseLostError, type RelayLease, type RelayStore } from './relayStore.js';

/**
 * Renews `lease` every third of its length and emits once when it is lost
 * (a renewal answered `false`, or `RelayLeaseLostError`). A renewal that
 * fails otherwise (the store unreachable) is reported and tried again at
 * the next tick: bookkeeping never cuts a healthy stream by itself; if the
 * lease did lapse meanwhile, the next renewal or append says so.
 *
 * ```text
 * renew:   ---t----t----f         t: renewed, f: false (another producer took over)
 * result:  -------------(l|)
 * renew:   ---t----#----t--       #: store error, reported, ignored
 * result:  ----------------
 * ```
 *
 * @example
 * ```ts
 * source.pipe(takeUntil(keepLease(store, lease, reporter, asyncScheduler)));
 * ```
 */
export function keepLease(store: RelayStore, lease: RelayLease, reporter: RelayReporter, scheduler: SchedulerLike): Observable<void> {
  return interval(Math.max(1, Math.floor(lease.leaseMs / 3)), scheduler).pipe(
    exhaustMap(() =>
      from(store.renew(lease)).pipe(
        catchError((error: unknown) => {
          if (error instanceof RelayLeaseLostError) return of(false);
          reporter.storeError('renew', error, lease.streamId);
          return EMPTY;
        }),
      ),
    ),
    filter((renewed) => !renewed),
    take(1),
    map(() => undefined),
  );
}
