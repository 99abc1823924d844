/**
 * What a relay instance did, for metrics and logs (`createRelay`'s
 * `onActivity`). The shape agreed with the relay; `relayTelemetry` reads it.
 */
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
  | {
      type: 'readerClosed';
      streamId: string;
      served: number;
      behind: number;
      reason: 'end' | 'client' | 'dropped' | 'ownerGone' | 'storeError' | 'closed';
    }
  /** A store call failed (it may be retried). */
  | { type: 'storeError'; streamId?: string; operation: string; error: unknown };
