/**
 * What the Redis store tells its `onActivity` of its connections: a
 * `storeDisconnected` when one that worked is lost (or cannot be opened), and
 * a `storeReconnected` when it works again; once each per outage.
 * @internal
 */
import type { RelayActivity, RelayStoreConnection } from '../relayActivity.js';

/** Where a store reports a connection lost or back. */
export interface ConnectionReport {
  lost(connection: RelayStoreConnection, error: unknown): void;
  restored(connection: RelayStoreConnection): void;
}

/** The report of `onActivity` (its exceptions caught and ignored), or `undefined` without one. */
export function connectionReport(onActivity: ((activity: RelayActivity) => void) | undefined): ConnectionReport | undefined {
  if (onActivity === undefined) return undefined;
  const tell = (activity: RelayActivity) => {
    try {
      onActivity(activity);
    } catch {
      // A hook's failure is the app's; the store goes on.
    }
  };
  return {
    lost: (connection, error) => tell({ type: 'storeDisconnected', connection, error }),
    restored: (connection) => tell({ type: 'storeReconnected', connection }),
  };
}

type Listener = (...args: unknown[]) => void;
type Emitter = { on(event: string, listener: Listener): unknown; removeListener?(event: string, listener: Listener): unknown };

/**
 * Watches the command connection of the client the store was given (it
 * reconnects by itself: node-redis and ioredis both do by default). Lost: its
 * `'error'` or `'reconnecting'` event while it was up; back: its `'ready'`
 * event after that. Returns how to stop watching (the store's `close`).
 */
export function watchCommandConnection(client: object, report: ConnectionReport): () => void {
  const emitter = client as Partial<Emitter>;
  if (typeof emitter.on !== 'function') return () => undefined;
  let up = true;
  const down: Listener = (error) => {
    if (!up) return;
    up = false;
    report.lost('commands', error ?? new Error('Redis connection lost'));
  };
  const ready: Listener = () => {
    if (up) return;
    up = true;
    report.restored('commands');
  };
  const listeners: Array<[string, Listener]> = [
    ['error', down],
    ['reconnecting', down],
    ['ready', ready],
  ];
  for (const [event, listener] of listeners) emitter.on.call(client, event, listener);
  return () => {
    if (typeof emitter.removeListener !== 'function') return;
    for (const [event, listener] of listeners) emitter.removeListener.call(client, event, listener);
  };
}
