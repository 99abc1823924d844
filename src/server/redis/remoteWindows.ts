/**
 * What this instance learns from the change messages of streams produced on
 * other instances: each write publishes the entries it stored (see
 * `relayScripts.ts`), and a followed stream keeps its latest ones here, so
 * that its readers on this instance get them without a read from Redis. The
 * log's name and owner come from a read (the first of any reader here), never
 * from a message alone; anything unexpected (another log, a gap, a message
 * without entries) empties the window and the readers read Redis again.
 * Entries published before a read confirmed the log are held until one
 * does: those that follow on from what it found join the window then, so a
 * reader whose first read crossed a write needs no second read.
 * @internal
 */
import type { RelayLogEntry, RelayPage } from '../relayStore.js';
import { logEntry } from './localLogs.js';

/** One followed stream's latest published entries. */
export interface RemoteWindow {
  /** The log and owner a read from Redis found; until then the window serves nothing. */
  confirmed: { readonly log: string; readonly owner: string | undefined } | undefined;
  /** Consecutive entries, oldest first. */
  entries: RelayLogEntry[];
  /** Consecutive entries of one log, published while no read had confirmed the log; the next read keeps those past it. */
  unconfirmed?: { readonly log: string; entries: RelayLogEntry[] } | undefined;
  /** When its readers were last told to read again (`Date.now()`): a change message, or the store's safety net. */
  wokenAt?: number | undefined;
  /** A read went to Redis before the change channel was subscribed (it waited `blockMs` in vain): its readers read again once it is. */
  readUnsubscribed?: boolean | undefined;
}

/** Entries kept per followed stream. */
const REMOTE_WINDOW_ENTRIES = 256;

/** A write's change message: its log and entries, or `undefined` for any other message. */
export function parseEntriesMessage(message: string): { log: string; entries: RelayLogEntry[] } | undefined {
  if (!message.startsWith('["a",')) return undefined;
  let parts: unknown;
  try {
    parts = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parts) || typeof parts[1] !== 'string' || !Number.isSafeInteger(parts[2]) || (parts.length - 3) % 3 !== 0) return undefined;
  const entries: RelayLogEntry[] = [];
  for (let i = 3, seq = parts[2] as number; i < parts.length; i += 3, seq++) {
    const [kind, type, data] = [parts[i], parts[i + 1], parts[i + 2]];
    if (typeof kind !== 'string' || typeof type !== 'string' || typeof data !== 'string') return undefined;
    const typed = kind === 'e' || kind === 'E';
    entries.push(logEntry(seq, data, typed ? type : undefined, kind === 'E' || kind === 'D'));
  }
  return { log: parts[1], entries };
}

/** Takes one change message into `window`: its entries when they follow on, else an empty window (holding them when they name a log). */
export function takeMessage(window: RemoteWindow, message: string): void {
  const parsed = parseEntriesMessage(message);
  const last = window.entries[window.entries.length - 1];
  if (!parsed || parsed.log !== window.confirmed?.log) {
    window.entries = [];
    window.confirmed = parsed ? undefined : window.confirmed;
    window.unconfirmed = parsed ? held(window.unconfirmed, parsed) : undefined;
    return;
  }
  if (last && parsed.entries[0]!.seq !== last.seq + 1) window.entries = [];
  keep(window, parsed.entries);
}

/** `unconfirmed` with a message's entries added: after them when they follow on in the same log, else instead of them. */
function held(unconfirmed: RemoteWindow['unconfirmed'], message: { log: string; entries: RelayLogEntry[] }): RemoteWindow['unconfirmed'] {
  const last = unconfirmed?.entries[unconfirmed.entries.length - 1];
  if (!unconfirmed || unconfirmed.log !== message.log || !last || message.entries[0]!.seq !== last.seq + 1) return { log: message.log, entries: message.entries };
  unconfirmed.entries.push(...message.entries);
  if (unconfirmed.entries.length > REMOTE_WINDOW_ENTRIES) unconfirmed.entries.splice(0, unconfirmed.entries.length - REMOTE_WINDOW_ENTRIES);
  return unconfirmed;
}

/**
 * Takes a read from Redis into `window`: its log and owner, and its entries
 * when they follow on; then the held entries of that log that follow on
 * from the read's last entry (published while the read was on its way).
 */
export function takePage(window: RemoteWindow, page: RelayPage): void {
  if (window.confirmed?.log !== page.log) window.entries = [];
  window.confirmed = { log: page.log, owner: page.owner };
  const unconfirmed = window.unconfirmed;
  window.unconfirmed = undefined;
  const last = window.entries[window.entries.length - 1];
  const first = page.entries[0];
  if (!first || page.entries[page.entries.length - 1]!.seq !== page.lastSeq) return;
  if (!last || first.seq === last.seq + 1) keep(window, page.entries);
  if (unconfirmed?.log !== page.log || window.entries[window.entries.length - 1]?.seq !== page.lastSeq) return;
  const later = unconfirmed.entries.filter((entry) => entry.seq > page.lastSeq);
  if (later[0]?.seq === page.lastSeq + 1) keep(window, later);
}

/** Adds entries that follow on to the window, dropping the oldest past its size. */
function keep(window: RemoteWindow, entries: readonly RelayLogEntry[]): void {
  window.entries.push(...entries);
  if (window.entries.length > REMOTE_WINDOW_ENTRIES) window.entries.splice(0, window.entries.length - REMOTE_WINDOW_ENTRIES);
}

/** A page of the entries after `afterSeq` from `window`, or `undefined` when it does not hold the next one. */
export function remotePage(window: RemoteWindow, afterSeq: number, limit: number): RelayPage | undefined {
  const { confirmed, entries } = window;
  const first = entries[0];
  const last = entries[entries.length - 1];
  if (!confirmed || !first || !last || first.seq > afterSeq + 1 || last.seq <= afterSeq) return undefined;
  const start = afterSeq + 1 - first.seq;
  const ended = last.end === true;
  return { log: confirmed.log, lastSeq: last.seq, ended, leased: !ended, owner: confirmed.owner, entries: entries.slice(start, start + limit) };
}
