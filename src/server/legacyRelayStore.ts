import type { Observable } from 'rxjs';
import type { RelayEntry, RelayEvent } from './relayStore.js';

/**
 * The wave-2 store interface, kept only while the stores and `createRelay`
 * move to `RelayStore` (relayStore.ts); deleted once they have.
 * @internal
 */
export interface LegacyRelayStore {
  create(streamId: string, ttlMs: number): Promise<boolean>;
  append(streamId: string, event: RelayEvent): Promise<string>;
  end(streamId: string, event: RelayEvent, ttlMs: number): Promise<void>;
  has(streamId: string): Promise<boolean>;
  follow(streamId: string, afterId?: string): Observable<RelayEntry>;
  touch(streamId: string, ttlMs: number): Promise<void>;
  lastSeen(streamId: string): Promise<number | undefined>;
}
