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
 * the client has drained what it was sent, live until the terminal entry. A
 * reader that keeps up takes each new page from the store's memory
 * (`readNow`) synchronously, in the change signal's call: no promise per
 * entry; otherwise it reads (`read`) and goes on when the read answers.
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
    /** Resolves the wait of the positioning phase, if it waits (before the reader follows the log). */
    let wakeUp: (() => void) | undefined;
    let open = true;
    let changed = false;
    let changesFailed = false;
    /** Following, between pages: waiting for a change (or a poll) to read again. */
    let idle = false;
    /** The last page served was full: read on without waiting for a change. */
    let pageFull = false;
    /** The page in hand skips numbers and the entry before the gap was found stored: serve it. */
    let gapChecked = false;
    let served = 0;
    let after = 0;
    let known = 0;
    let log = '';
    let restart = false;

    const touch = () => void store.touch(streamId, touchTtl).catch((error: unknown) => reporter.storeError('touch', error, streamId));
    const finish = (reason: CloseReason) => {
      if (!open) return;
      open = false;
      // A reader that read the terminal entry records nothing: no producer is left to keep alive.
      if (reason !== 'end') touch();
      reporter.activity({ type: 'readerClosed', streamId, served, behind: Math.max(0, known - after), reason });
      wake();
      subscriber.complete();
    };
    const fail = (error: Error) => {
      open = false;
      reporter.activity({ type: 'readerClosed', streamId, served, behind: 0, reason: 'end' });
      subscriber.error(error);
    };
    /** A store read (or the client's drain signal) that failed: reported, and the reader ends without a terminal event. */
    const readFailed = (error: unknown) => {
      if (!open) return;
      reporter.storeError('read', error, streamId);
      finish('storeError');
    };
    const nextWake = () => new Promise<void>((resolve) => (wakeUp = resolve));
    const wake = () => {
      const resume = wakeUp;
      wakeUp = undefined;
      resume?.();
      if (idle && open) {
        idle = false;
        guarded(readAgain);
      }
    };
    /** Runs a step of the follow phase outside the read chain (a change, a drain): what it throws ends the reader as a failed read does. */
    const guarded = (step: () => void) => {
      try {
        step();
      } catch (error: unknown) {
        readFailed(error);
      }
    };
    const followRead = (page: RelayPage | undefined) => guarded(() => follow(page));

    /**
     * The page after `after`: at once when the store holds it in memory
     * (`readNow`); otherwise it is read, `follow` goes on with it, and this
     * returns `undefined`.
     */
    const readNext = (): RelayPage | undefined => {
      if (changesFailed) {
        finish('storeError');
        return undefined;
      }
      changed = false;
      const page = store.readNow?.(streamId, after, PAGE_ENTRIES);
      // A wrapper that makes every method of a store async (a proxy for metrics, say) returns a promise: not at hand.
      if (page && typeof (page as Partial<PromiseLike<unknown>>).then !== 'function') return page;
      store.read(streamId, after, PAGE_ENTRIES).then((read) => open && followRead(read), readFailed);
      return undefined;
    };
    /** After a page was served and its client drained: the next page at once, or `undefined` while it waits for a change or a read. */
    const nextPage = (): RelayPage | undefined => {
      if (!pageFull && !changed) {
        idle = true;
        return undefined;
      }
      return readNext();
    };
    /** Woken while idle (a change, a poll): reads again. */
    const readAgain = () => {
      const page = readNext();
      if (page) follow(page);
    };
    /** The client drained: reads on, or waits for a change. */
    const readOn = () => {
      const page = nextPage();
      if (page) follow(page);
    };
    /**
     * Waits until the client has taken what was written: `false` when it
     * already has (one synchronous subscription, nothing held); otherwise
     * the reader goes on from the drain signal.
     */
    const waitsForDrain = (): boolean => {
      let signalled = false;
      let failure: { error: unknown } | undefined;
      let subscription: Subscription | undefined;
      const signal = (error?: { error: unknown }) => {
        if (signalled) return;
        signalled = true;
        failure = error;
        if (!subscription) return;
        subscriptions.remove(subscription);
        subscription.unsubscribe();
        if (!open) return;
        if (failure) return readFailed(failure.error);
        guarded(readOn);
      };
      const drained = demand.drained().subscribe({ next: () => signal(), complete: () => signal(), error: (error: unknown) => signal({ error }) });
      if (signalled) {
        drained.unsubscribe();
        if (failure) readFailed(failure.error);
        return failure !== undefined;
      }
      // Held by the reader while it waits, so that a client leaving now releases it at once.
      subscription = drained;
      subscriptions.add(drained);
      return true;
    };
    /**
     * Serves pages for as long as it can without waiting, synchronously;
     * then waits (for a drain, a change or a read), which calls it again.
     * `undefined`: the log is gone.
     */
    const follow = (first: RelayPage | undefined): void => {
      let page = first;
      while (open) {
        if (!page || page.log !== log) return finish('ownerGone');
        known = page.lastSeq;
        const { entries } = page;
        // Numbers skipped (a takeover): go on only from an entry the log holds; from one it never stored, the client resumes and starts over.
        const next = firstAfter(entries, after);
        if (!gapChecked && next && after > 0 && next.seq > after + 1 && !next.end) {
          const held = page;
          store.read(streamId, after - 1, 1).then((named) => {
            if (!open) return;
            if (!namesEntry(named, after)) return finish('ownerGone');
            gapChecked = true;
            followRead(held);
          }, readFailed);
          return;
        }
        gapChecked = false;
        for (let i = 0; i < entries.length; i++) {
          const entry = entries[i]!;
          if (entry.seq <= after && !entry.end) continue;
          const out = toRelayEntry(log, entry, restart && entry.event === undefined && !entry.end);
          restart = false;
          // Counted before it is handed out: a client that leaves on this entry has read it.
          served++;
          after = Math.max(after, entry.seq);
          subscriber.next(out);
          if (entry.end) return finish('end');
          if (!open) return;
        }
        if (entries.length === 0 && !page.leased && !page.ended) return finish('ownerGone');
        // A client that holds nothing back (or, when its writer says so, is not backed up) is not asked to drain.
        const buffered = demand.buffered();
        if (buffered > maxBufferedBytes) return finish('dropped');
        pageFull = entries.length >= PAGE_ENTRIES;
        if (buffered > 0 && (demand.backedUp?.() ?? true) && waitsForDrain()) return;
        page = nextPage();
        if (!page) return;
      }
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

    /** Finds where the client's `Last-Event-ID` puts it in the log, then follows the log from there. */
    const position = async () => {
      const wanted = typeof options.lastEventId === 'string' && options.lastEventId !== '' ? options.lastEventId : undefined;
      const position = parseRelayEventId(wanted);
      // Read from the entry the id names, so that one read also tells whether it is an entry of the log; a store
      // that can records the read in the same step (only for a reader allowed to read: that keeps the stream from
      // being abandoned).
      let page: RelayPage | undefined = await store.read(streamId, Math.max(0, (position?.seq ?? 0) - 1), PAGE_ENTRIES, { ttlMs: touchTtl, owner });
      if (!open) return;
      if (!page) return fail(new RelayStreamNotFoundError(streamId));
      if (page.owner !== undefined && page.owner !== owner) return fail(new RelayForbiddenError());
      if (page.seen !== true) touch();
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
      log = page.log;
      restart = foreign;
      follow(page);
    };
    position().catch(readFailed);

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

/** The first entry after `seq`, if any. */
function firstAfter(entries: readonly RelayLogEntry[], seq: number): RelayLogEntry | undefined {
  for (let i = 0; i < entries.length; i++) if (entries[i]!.seq > seq) return entries[i];
  return undefined;
}

function toRelayEntry(log: string, entry: RelayLogEntry, asRestart: boolean): RelayEntry {
  const out: RelayEntry = { id: formatRelayEventId(log, entry.seq), data: entry.data };
  const event = asRestart ? 'restart' : entry.event;
  if (event !== undefined) out.event = event;
  if (entry.end) out.end = true;
  return out;
}
