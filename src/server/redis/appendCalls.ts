/**
 * The Redis store's appends on their way to Redis. An append goes at once,
 * in a call of its own, while few calls are on their way (the usual case:
 * Redis answers faster than appends come); past that, those of different
 * streams wait until a call is answered or the event loop's next turn
 * (`setImmediate`), whichever comes first, and go as one `append` script
 * call (see `relayScripts.ts`). A busy event loop is
 * where this matters: node-redis writes at most about 16 KiB of commands
 * per turn of the loop, so with one call per append a thousand streams
 * outgrow what a slow loop writes and their appends wait for seconds; one
 * call carries any number of them, in fewer bytes, with one reply to decode.
 * A stream has at most one append in flight (the store
 * queues them per stream), so a call never holds two of one stream, and
 * each stream's answer is its own: one stream's lost lease leaves the others
 * appended. On a Redis Cluster the streams of a call would have to share a
 * slot, so each append goes alone, at once.
 *
 * ```text
 * appends, few on their way:   a1 b1 | a2 |     calls: [a1] [b1] [a2]      (at once)
 * appends, 16 on their way:    a1 b1 c1 | a2 |  calls:   [a1,b1,c1] [a2]  (each on the next turn)
 * ```
 * @internal
 */

/** While fewer calls than this are on their way, an append goes at once, alone. */
export const CALLS_BEFORE_BATCHING = 16;

/** Streams in one call at most: bounds how long one script keeps `redis-server` busy. */
export const STREAMS_PER_APPEND_CALL = 128;

/** Runs the append script with these keys and arguments; resolves to its reply. */
export type AppendCall = (keys: string[], args: string[]) => Promise<unknown>;

interface WaitingAppend {
  readonly meta: string;
  readonly header: string;
  readonly entries: readonly string[];
  readonly resolve: (answer: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export class AppendCalls {
  private waiting: WaitingAppend[] = [];
  private scheduled = false;
  /** Calls sent and not answered. */
  private inFlight = 0;

  /**
   * @param call runs the script
   * @param publish the publish command, the script's first argument
   * @param together whether appends of different streams may share a call (not on a Cluster)
   */
  constructor(
    private readonly call: AppendCall,
    private readonly publish: string,
    private readonly together: boolean,
  ) {}

  /** Appends one stream's entries (its meta key, header and entry arguments); resolves to the script's answer for it. */
  add(meta: string, header: string, entries: readonly string[]): Promise<unknown> {
    if (!this.together) return this.call([meta], [this.publish, header, ...entries]).then(firstAnswer);
    return new Promise((resolve, reject) => {
      const append: WaitingAppend = { meta, header, entries, resolve, reject };
      if (this.inFlight < CALLS_BEFORE_BATCHING && !this.scheduled) return this.send([append]);
      this.waiting.push(append);
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(this.flush);
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const waiting = this.waiting;
    this.waiting = [];
    for (let from = 0; from < waiting.length; from += STREAMS_PER_APPEND_CALL) this.send(waiting.slice(from, from + STREAMS_PER_APPEND_CALL));
  };

  /**
   * A call was answered: those waiting go now, without waiting for the
   * next turn (an answer is read while the loop handles I/O, and the client
   * writes what is sent now in this same turn).
   */
  private answered(): void {
    this.inFlight--;
    if (this.waiting.length > 0) this.flush();
  }

  private send(appends: WaitingAppend[]): void {
    const keys: string[] = [];
    const args: string[] = [this.publish];
    for (let i = 0; i < appends.length; i++) {
      const append = appends[i]!;
      keys.push(append.meta);
      args.push(append.header);
      for (let j = 0; j < append.entries.length; j++) args.push(append.entries[j]!);
    }
    this.inFlight++;
    this.call(keys, args).then(
      (reply) => {
        this.answered();
        if (!Array.isArray(reply) || reply.length !== appends.length) {
          const error = new TypeError(`redisRelayStore: unexpected reply from Redis to an append of ${appends.length} streams.`);
          for (const append of appends) append.reject(error);
          return;
        }
        for (let i = 0; i < appends.length; i++) appends[i]!.resolve(reply[i]);
      },
      (error: unknown) => {
        this.answered();
        for (const append of appends) append.reject(error);
      },
    );
  }
}

function firstAnswer(reply: unknown): unknown {
  if (Array.isArray(reply) && reply.length === 1) return reply[0];
  throw new TypeError('redisRelayStore: unexpected reply from Redis to an append.');
}

/**
 * One entry as the write scripts take it: its kind (`d`/`e`, `D`/`E` when
 * terminal), for a typed entry the type's length in bytes, `:` and the type,
 * then the data.
 */
export function entryArgument(data: string, event: string | undefined, terminal: boolean): string {
  if (event === undefined) return (terminal ? 'D' : 'd') + data;
  return `${terminal ? 'E' : 'e'}${Buffer.byteLength(event)}:${event}${data}`;
}
