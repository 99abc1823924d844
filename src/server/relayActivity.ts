/** What a relay instance did, for metrics and logs (`createRelay`'s `onActivity`). */
export type RelayActivity =
  /** This instance claimed the stream and subscribed its producer (`takeover`: it continued a log another producer left). */
  | { type: 'started'; streamId: string; takeover: boolean; resumed: boolean }
  /** Entries this instance's producer wrote. */
  | { type: 'appended'; streamId: string; entries: number }
  /** The producer wrote the terminal entry. */
  | { type: 'ended'; streamId: string; outcome: 'done' | 'error' | 'cancelled' | 'full' }
  /** close() released the lease of a running producer without a terminal entry. */
  | { type: 'handedOver'; streamId: string }
  /** The producer found its lease gone (another producer took over, or the log expired) and stopped. */
  | { type: 'leaseLost'; streamId: string }
  /** A client started reading. */
  | { type: 'readerOpened'; streamId: string }
  /** A reader ended: `served` entries sent; `behind` entries it had not been sent when it ended. */
  | { type: 'readerClosed'; streamId: string; served: number; behind: number; reason: 'end' | 'client' | 'dropped' | 'ownerGone' | 'storeError' | 'closed' }
  /** A store call failed (it may be retried). */
  | { type: 'storeError'; streamId?: string; operation: string; error: unknown }
  /** The store lost a connection to its backend, or could not open it (reported by the store: `redisRelayStore`'s `onActivity`); it reconnects by itself. */
  | { type: 'storeDisconnected'; connection: RelayStoreConnection; error: unknown }
  /** A connection the store had lost works again. */
  | { type: 'storeReconnected'; connection: RelayStoreConnection };

/** Which of a store's connections: the one its commands go through, or the one that follows streams produced elsewhere. */
export type RelayStoreConnection = 'commands' | 'changes';

/** What the relay's parts report through: activity and failures, each hook's own exceptions caught and ignored. */
export interface RelayReporter {
  /** Whether anything listens to `activity` (an `onActivity` hook): hot paths build their report only then. */
  readonly listening: boolean;
  activity(activity: RelayActivity): void;
  error(error: unknown, streamId: string | undefined): void;
  /** A failed store call: reported as `storeError` activity and to `onError`. */
  storeError(operation: string, error: unknown, streamId: string | undefined): void;
}

/** The reporter of `createRelay`'s `onActivity` and `onError` hooks. */
export function relayReporter(
  onActivity: ((activity: RelayActivity) => void) | undefined,
  onError: ((error: unknown, context: { streamId: string | undefined }) => void) | undefined,
): RelayReporter {
  const activity = (event: RelayActivity) => {
    try {
      onActivity?.(event);
    } catch {
      // A hook's failure is the app's; the relay goes on.
    }
  };
  const error = (failure: unknown, streamId: string | undefined) => {
    try {
      onError?.(failure, { streamId });
    } catch {
      // As above.
    }
  };
  return {
    listening: onActivity !== undefined,
    activity,
    error,
    storeError(operation, failure, streamId) {
      activity(streamId === undefined ? { type: 'storeError', operation, error: failure } : { type: 'storeError', streamId, operation, error: failure });
      error(failure, streamId);
    },
  };
}
