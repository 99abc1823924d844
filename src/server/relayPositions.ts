/**
 * Where a reader's position (a `Last-Event-ID`'s or a Durable Streams
 * offset's `seq`) stands in a log, for the relay's SSE reader and its
 * Durable Streams route alike.
 * @internal
 */
import { RELAY_TAKEOVER_SKIP, type RelayPage } from './relayStore.js';

/**
 * Whether `seq` may be an entry the log's owner showed and has not stored
 * yet: past the stored end of a live, leased log, by no more than an owner
 * shows ahead (`RELAY_TAKEOVER_SKIP`).
 */
export function shownAhead(page: RelayPage, seq: number): boolean {
  return !page.ended && page.leased && seq > page.lastSeq && seq <= page.lastSeq + RELAY_TAKEOVER_SKIP;
}

/**
 * Whether `seq` is a position a reader may continue after in the log `page`
 * was read from (`page` read after `seq - 1`): the start, an entry the log
 * holds, or a position at or past the terminal entry. Not one: past the end
 * of a live log, or a number a takeover skipped (an entry shown by an owner
 * that died before storing it).
 */
export function namesEntry(page: RelayPage | undefined, seq: number): boolean {
  if (seq === 0) return true;
  if (!page) return false;
  if (page.ended && seq >= page.lastSeq) return true;
  return seq <= page.lastSeq && page.entries[0]?.seq === seq;
}
