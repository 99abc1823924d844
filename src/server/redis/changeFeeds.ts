/**
 * The store's follow loop: one subscriber connection per Redis node, shared
 * by every reader of this instance that waits on a stream produced elsewhere.
 * Scripts publish on a stream's change channel after every write; a channel
 * is subscribed while at least one reader here waits on it.
 * @internal
 */
import { NetworkError } from '../../errors.js';
import type { RedisConnection, RedisSubscriber } from './redisConnection.js';
import type { ConnectionReport } from './connectionReports.js';

/** One waiting reader: told when to read again, or that the feed failed. */
export interface ChangeWatcher {
  next(): void;
  error(error: unknown): void;
  /**
   * Called instead of `next` when the channel's `SUBSCRIBE` is answered. Without it the watcher is told to read
   * again then (a change may have landed between its read and the subscription); a watcher whose reads wait for
   * the subscription (`whenSubscribed`) has nothing to read again.
   */
  subscribed?(): void;
}

interface Channel {
  readonly watchers: Set<ChangeWatcher>;
  /** Whether `SUBSCRIBE` was answered. */
  subscribed: boolean;
  /** Settles once `SUBSCRIBE` was answered, failed, or the channel was dropped. */
  readonly settled: Promise<void>;
  readonly settle: () => void;
}

function newChannel(watcher: ChangeWatcher): Channel {
  let settle!: () => void;
  const settled = new Promise<void>((resolve) => (settle = resolve));
  return { watchers: new Set([watcher]), subscribed: false, settled, settle };
}

/** Delay before the n-th reconnection attempt (n ≥ 1): 50 ms doubling to 2 s, with up to 50 % jitter. */
export function reconnectDelay(failures: number): number {
  const base = Math.min(2_000, 50 * 2 ** Math.min(failures - 1, 6));
  return base / 2 + Math.random() * (base / 2);
}

class NodeFeed {
  private subscriber: Promise<RedisSubscriber> | undefined;
  private failures = 0;
  /** Counts connection attempts; a late event of an older connection is ignored. */
  private generation = 0;
  private retryAt = 0;
  /** Lost (or never opened) since it last worked: reported once, and its return too. */
  private down = false;
  readonly channels = new Map<string, Channel>();

  constructor(
    private readonly connection: RedisConnection,
    private readonly node: string,
    private readonly report: ConnectionReport | undefined,
    private readonly published: PublishedHook | undefined,
  ) {}

  watch(channel: string, watcher: ChangeWatcher): void {
    const known = this.channels.get(channel);
    if (known) {
      known.watchers.add(watcher);
      return;
    }
    const entry = newChannel(watcher);
    this.channels.set(channel, entry);
    let sent = false;
    this.open()
      .then((subscriber) => {
        // Dropped before the connection opened: nothing to subscribe.
        if (this.channels.get(channel) !== entry) return;
        sent = true;
        return subscriber.subscribe(channel);
      })
      .then(
        () => {
          entry.settle();
          if (this.channels.get(channel) !== entry) {
            // Dropped while its SUBSCRIBE was on its way: undone, unless the channel is watched again (its own SUBSCRIBE came after this one).
            if (sent && !this.channels.has(channel)) this.unsubscribe(channel);
            return;
          }
          entry.subscribed = true;
          // A change may have landed between a reader's read and this subscription: read again (unless it waited).
          for (const waiting of [...entry.watchers]) (waiting.subscribed ?? waiting.next).call(waiting);
        },
        (error: unknown) => {
          entry.settle();
          if (this.channels.get(channel) !== entry) return;
          this.channels.delete(channel);
          for (const waiting of [...entry.watchers]) waiting.error(feedError(error));
        },
      );
  }

  /** Settles once `channel`'s subscription is answered (or fails); `undefined` when it is, or is not watched. */
  whenSubscribed(channel: string): Promise<void> | undefined {
    const entry = this.channels.get(channel);
    return entry && !entry.subscribed ? entry.settled : undefined;
  }

  unwatch(channel: string, watcher: ChangeWatcher): void {
    const entry = this.channels.get(channel);
    if (!entry?.watchers.delete(watcher) || entry.watchers.size > 0) return;
    this.channels.delete(channel);
    entry.settle();
    if (entry.subscribed) this.unsubscribe(channel);
  }

  /**
   * Channels whose slot another node serves now (a failover, a resharding):
   * their readers get an error and resume, subscribing on the right node.
   */
  dropMoved(nodeOf: (channel: string) => string, node: string): void {
    for (const [channel, entry] of [...this.channels]) {
      if (nodeOf(channel) === node) continue;
      this.channels.delete(channel);
      entry.settle();
      if (entry.subscribed) this.unsubscribe(channel);
      const moved = new NetworkError('relay: the stream moved to another Redis node; the reader resumes.');
      for (const watcher of [...entry.watchers]) watcher.error(moved);
    }
  }

  /** Sends `UNSUBSCRIBE` for `channel` on the open connection, if any (a failure is moot: the connection is gone). */
  private unsubscribe(channel: string): void {
    this.subscriber?.then((subscriber) => subscriber.unsubscribe(channel)).catch(() => undefined);
  }

  close(): void {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.generation++;
    subscriber?.then((open) => open.close()).catch(() => undefined);
    this.fail(new NetworkError('relay: the Redis store was closed.'));
  }

  private open(): Promise<RedisSubscriber> {
    if (this.subscriber) return this.subscriber;
    const generation = ++this.generation;
    const attempt = this.connect(generation);
    this.subscriber = attempt;
    attempt.then(
      () => {
        this.failures = 0;
        if (this.down) this.report?.restored('changes');
        this.down = false;
      },
      (error: unknown) => {
        if (this.generation !== generation) return;
        this.subscriber = undefined;
        this.noteFailure();
        this.noteDown(error);
      },
    );
    return attempt;
  }

  private async connect(generation: number): Promise<RedisSubscriber> {
    const wait = this.retryAt - Date.now();
    if (wait > 0) await new Promise((resume) => setTimeout(resume, wait).unref?.());
    let opened: RedisSubscriber | undefined;
    let gone = false;
    const subscriber = await this.connection.openSubscriber(this.node, {
      message: (channel, message) => {
        const entry = this.channels.get(channel);
        if (!entry) return;
        this.published?.(channel, message);
        // forEach, not a copy (once per message): a watcher that leaves meanwhile is skipped, one that joins is told too.
        entry.watchers.forEach(tellNext);
      },
      lost: (error) => {
        gone = true;
        opened?.close();
        if (this.generation !== generation || opened === undefined) return;
        this.generation++;
        this.subscriber = undefined;
        this.noteFailure();
        this.noteDown(error);
        this.fail(error);
      },
    });
    if (gone || this.generation !== generation) {
      subscriber.close();
      throw new NetworkError('relay: the Redis connection that follows streams closed as it opened.');
    }
    opened = subscriber;
    return subscriber;
  }

  private noteDown(error: unknown): void {
    if (!this.down) this.report?.lost('changes', error);
    this.down = true;
  }

  private noteFailure(): void {
    this.failures++;
    this.retryAt = Date.now() + reconnectDelay(this.failures);
  }

  /** Every waiting reader gets the error; nothing stays subscribed. */
  private fail(error: unknown): void {
    const channels = [...this.channels.values()];
    this.channels.clear();
    for (const entry of channels) entry.settle();
    for (const entry of channels) for (const watcher of [...entry.watchers]) watcher.error(feedError(error));
  }
}

/** Tells one watcher to read again (a function, not a closure per message, for `forEach`). */
export function tellNext(watcher: ChangeWatcher): void {
  watcher.next();
}

function feedError(error: unknown): NetworkError {
  if (error instanceof NetworkError) return error;
  return new NetworkError('relay: lost the Redis connection that follows streams; the reader resumes.', { cause: error });
}

/** Sees each message published on a watched channel, before its watchers are told. */
export type PublishedHook = (channel: string, message: string) => void;

/** The follow loops of one store: one `NodeFeed` (one connection) per Redis node. */
export class ChangeFeeds {
  private readonly feeds = new Map<string, NodeFeed>();

  constructor(
    private readonly connection: RedisConnection,
    private readonly report?: ConnectionReport | undefined,
    private readonly published?: PublishedHook | undefined,
  ) {}

  private feedOf(channel: string): NodeFeed {
    const node = this.connection.nodeOf(channel);
    let feed = this.feeds.get(node);
    if (!feed) {
      feed = new NodeFeed(this.connection, node, this.report, this.published);
      this.feeds.set(node, feed);
    }
    return feed;
  }

  /** Tells `watcher` about every change published on `channel` until `unwatch`; returns how to stop. */
  watch(channel: string, watcher: ChangeWatcher): () => void {
    const feed = this.feedOf(channel);
    feed.watch(channel, watcher);
    return () => feed.unwatch(channel, watcher);
  }

  /** Settles once `channel`'s subscription is answered (or fails); `undefined` when it is, or is not watched. */
  whenSubscribed(channel: string): Promise<void> | undefined {
    return this.feeds.get(this.connection.nodeOf(channel))?.whenSubscribed(channel);
  }

  /** On a Cluster, moves readers whose stream's slot changed node (they resume on the right one). */
  checkNodes(): void {
    if (!this.connection.cluster) return;
    const nodeOf = (channel: string) => this.connection.nodeOf(channel);
    for (const [node, feed] of this.feeds) feed.dropMoved(nodeOf, node);
  }

  close(): void {
    for (const feed of this.feeds.values()) feed.close();
    this.feeds.clear();
  }
}
