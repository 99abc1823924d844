import { interval, Observable, Subscription, type SchedulerLike } from 'rxjs';
import type { FramesDemand } from './pullFrames.js';
import type { RelayActivity, RelayReporter } from './relayActivity.js';
import { formatRelayEventId, parseRelayEventId } from './relayEventId.js';
import { namesEntry, shownAhead } from './relayPositions.js';
import { RelayForbiddenError, RelayStreamNotFoundError, type RelayEntry, type RelayLogEntry, type RelayPage, type RelayStore } from './relayStore.js';

/** What one reader needs. */
export interface RelayReaderOptions {
  readonly store: RelayStore;
  readonly streamId: string;
  /** The client's `Last-Event-ID`, as it came (anything). */
  readonly lastEventId: unknown;
  readonly owner: string | undefined;
  readonly demand: FramesDemand;
  readonly maxBufferedBytes: number;
  /** How often a waiting reader reads again even without a change signal (and so notices a lapsed lease), ms. */
  readonly pollMs: number;
  /** How often it records that a client reads (`touch`), ms; `Infinity`: only when it opens and closes. */
  readonly touchEvery: number;
  readonly touchTtl: number;
  readonly scheduler: SchedulerLike;
  readonly reporter: RelayReporter;
  /** Emits when the relay closes: the reader ends without a terminal event. */
  readonly closing: Observable<void>;
}

/** Entries read at once. */
export const PAGE_ENTRIES = 64;

type CloseReason = Extract<RelayActivity, { type: 'readerClosed' }>['reason'];

/**
 * One client's view of a log: pages of entries read from the store only when
 * the client has drained what it was sent, live until the terminal entry.
 * A `Last-Event-ID` of this log continues after it (at or past the terminal
 * entry: the terminal entry again); one of another log, malformed, or past
 * the end of a live log replays the log from its start, its first event sent
 * as `restart`; so does an id that names no entry (a number a takeover
 * skipped: an entry shown by an owner that died before storing it). An id
 * the owner showed and has not stored yet waits, while the lease holds,
 * until it is stored. The reader ends **without** a terminal event (so the client
 * resumes) when the log's lease is gone with no terminal entry (its owner
 * died or handed over), when the store fails, when its client has more than
 * `maxBufferedBytes` waiting, or when the relay closes. It errors, before
 * anything else, with `RelayStreamNotFoundError` for an unknown id and
 * `RelayForbiddenError` for another owner's stream.
 *
 * ```text
 * log:     1:a 2:b 3:c ... 9:done
 * reader (Last-Event-ID <log>-2):    3:c ... 9:done|
 * reader (Last-Event-ID other-5):    1:a(restart) 2:b ... 9:done|
 * reader, owner killed after 3:c:    3:c ...(leaseMs + one poll)... |
 * ```
 *
 * @example
 * ```ts
 * readRelayLog({ store, streamId, lastEventId, owner, demand, ... }).subscribe((entry) => send(entry));
 * ```
 */
export function readRelayLog(options: RelayReaderOptions): Observable<RelayEntry> {
  const { store, streamId, owner, demand, maxBufferedBytes, pollMs, touchEvery, touchTtl, scheduler, reporter } = options;
  return new Observable<RelayEntry>((subscriber) => {
    const subscriptions = new Subscription();
    /** Resolves the read loop's wait, if it waits (a plain callback: one wait per page, no subscription each time). */
    let wakeUp: (() => void) | undefined;
    const wake = () => {
      const resume = wakeUp;
      wakeUp = undefined;
      resume?.();
    };
    let open = true;
    let changed = false;
    let changesFailed = false;
    let served = 0;
    let after = 0;
    let known = 0;

    const touch = () => void store.touch(streamId, touchTtl).catch((error: unknown) => reporter.storeError('touch', error, streamId));
    const finish = (reason: CloseReason) => {
      if (!open) return;
      open = false;
      touch();
      reporter.activity({ type: 'readerClosed', streamId, served, behind: Math.max(0, known - after), reason });
      wake();
      subscriber.complete();
    };
    const nextWake = () => new Promise<void>((resolve) => (wakeUp = resolve));
    /**
     * Waits until the client has taken what was written, or the reader closes: `undefined` when it
     * already has (the common case), which costs one synchronous subscription, no promise, no turn.
     */
    const drained = (): Promise<void> | undefined => {
      let waiting = true;
      let failure: { error: unknown } | undefined;
      const stopWaiting = (error?: { error: unknown }) => {
        failure = error;
        waiting = false;
        wake();
      };
      const subscription = demand.drained().subscribe({ next: () => stopWaiting(), complete: () => stopWaiting(), error: (error: unknown) => stopWaiting({ error }) });
      if (!waiting) {
        subscription.unsubscribe();
        return failure && Promise.reject(failure.error);
      }
      // Held by the reader while it waits, so that a client leaving now releases it at once.
      subscriptions.add(subscription);
      return (async () => {
        while (waiting && open) await nextWake();
        subscriptions.remove(subscription);
        subscription.unsubscribe();
        if (failure) throw failure.error;
      })();
    };

    const fail = (error: Error) => {
      open = false;
      reporter.activity({ type: 'readerClosed', streamId, served, behind: 0, reason: 'end' });
      subscriber.error(error);
    };
    reporter.activity({ type: 'readerOpened', streamId });
    subscriptions.add(interval(Math.max(1, pollMs), scheduler).subscribe(wake));
    subscriptions.add(options.closing.subscribe(() => finish('closed')));
    // Subscribed before the first read, so that nothing appended meanwhile goes unnoticed.
    subscriptions.add(
      store.changes(streamId).subscribe({
        next: () => {
          changed = true;
          wake();
        },
        error: (error: unknown) => {
          reporter.storeError('changes', error, streamId);
          changesFailed = true;
          wake();
        },
      }),
    );

    const run = async () => {
      const wanted = typeof options.lastEventId === 'string' && options.lastEventId !== '' ? options.lastEventId : undefined;
      const position = parseRelayEventId(wanted);
      // Read from the entry the id names, so that one read also tells whether it is an entry of the log.
      let page: RelayPage | undefined = await store.read(streamId, Math.max(0, (position?.seq ?? 0) - 1), PAGE_ENTRIES);
      if (!open) return;
      if (!page) return fail(new RelayStreamNotFoundError(streamId));
      if (page.owner !== undefined && page.owner !== owner) return fail(new RelayForbiddenError());
      // Only a reader allowed to read keeps the stream from being abandoned.
      touch();
      if (touchEvery !== Infinity) subscriptions.add(interval(Math.max(1, touchEvery), scheduler).subscribe(touch));
      // An id the owner showed before storing it (read on the owner's instance, resumed on another): wait while the
      // owner lives until it is stored; if the owner dies first, its number is skipped and the id names no entry.
      while (store.offer && position && page.log === position.log && shownAhead(page, position.seq)) {
        if (!changed) await nextWake();
        if (!open) return;
        if (changesFailed) return finish('storeError');
        changed = false;
        page = await store.read(streamId, position.seq - 1, PAGE_ENTRIES);
        if (!open) return;
        if (!page) return finish('ownerGone');
      }
      const foreign = wanted !== undefined && (!position || position.log !== page.log || !namesEntry(page, position.seq));
      if (foreign) {
        page = await store.read(streamId, 0, PAGE_ENTRIES);
        if (!open) return;
        if (!page) return finish('ownerGone');
      } else after = position?.seq ?? 0;
      const log = page.log;
      let restart = foreign;
      for (;;) {
        if (page.log !== log) return finish('ownerGone');
        known = page.lastSeq;
        // Numbers skipped (a takeover): go on only from an entry the log holds; from one it never stored, the client resumes and starts over.
        const next = page.entries.find((entry) => entry.seq > after);
        if (next && after > 0 && next.seq > after + 1 && !next.end && !namesEntry(await store.read(streamId, after - 1, 1), after)) return finish('ownerGone');
        if (!open) return;
        for (const entry of page.entries) {
          if (entry.seq <= after && !entry.end) continue;
          subscriber.next(toRelayEntry(log, entry, restart && entry.event === undefined && !entry.end));
          restart = false;
          served++;
          after = Math.max(after, entry.seq);
          if (entry.end) return finish('end');
          if (!open) return;
        }
        if (page.entries.length === 0 && !page.leased && !page.ended) return finish('ownerGone');
        if (demand.buffered() > maxBufferedBytes) return finish('dropped');
        // Nothing waits for the client: no need to wait for its drain.
        const draining = demand.buffered() > 0 ? drained() : undefined;
        if (draining) await draining;
        if (!open) return;
        if (page.entries.length < PAGE_ENTRIES && !changed) await nextWake();
        if (!open) return;
        if (changesFailed) return finish('storeError');
        changed = false;
        page = await store.read(streamId, after, PAGE_ENTRIES);
        if (!open) return;
        if (!page) return finish('ownerGone');
      }
    };
    run().catch((error: unknown) => {
      if (!open) return;
      reporter.storeError('read', error, streamId);
      finish('storeError');
    });

    return () => {
      if (open) {
        open = false;
        if (served > 0 || after > 0) touch();
        reporter.activity({ type: 'readerClosed', streamId, served, behind: Math.max(0, known - after), reason: 'client' });
      }
      wake();
      subscriptions.unsubscribe();
    };
  });
}

function toRelayEntry(log: string, entry: RelayLogEntry, asRestart: boolean): RelayEntry {
  const out: RelayEntry = { id: formatRelayEventId(log, entry.seq), data: entry.data };
  const event = asRestart ? 'restart' : entry.event;
  if (event !== undefined) out.event = event;
  if (entry.end) out.end = true;
  return out;
}
