/**
 * The Redis store's writes of many streams (`claim`, `append`) on their way
 * to Redis. A write goes at once, in a call of its own, while few calls of
 * its script are on their way (the usual case: Redis answers faster than
 * writes come); past that, those of different streams wait until a call is
 * answered or the event loop's next turn (`setImmediate`), whichever comes
 * first, and go as one call of the script, which takes any number of
 * streams (see `relayScripts.ts`). A busy event loop is where this matters:
 * node-redis writes at most about 16 KiB of commands per turn of the loop,
 * so with one call per write a thousand streams outgrow what a slow loop
 * writes and their writes wait for seconds; one call carries any number of
 * them, in fewer bytes, with one reply to decode. A write nobody waits on
 * (`soon` false: the append of a stream that no other instance follows,
 * whose readers here were shown it already) waits so even while few calls
 * are on their way. The script runs a call's writes in order, each as a
 * call of its own would (two of one stream: one after the other), and
 * answers each on its own: one stream's lost lease leaves the others
 * appended. On a Redis Cluster the streams of a call would have to share a
 * slot, so each write goes alone, at once.
 *
 * ```text
 * writes, few on their way:   a1 b1 | a2 |     calls: [a1] [b1] [a2]      (at once)
 * writes, 16 on their way:    a1 b1 c1 | a2 |  calls:   [a1,b1,c1] [a2]  (each at the next answer or turn)
 * writes not soon, any:       a1 b1 c1 | a2 |  calls:   [a1,b1,c1] [a2]  (the same)
 * ```
 * @internal
 */

/** While fewer calls than this are on their way, a write goes at once, alone. */
export const CALLS_BEFORE_GATHERING = 16;

/** Streams in one call at most: bounds how long one script keeps `redis-server` busy. */
export const STREAMS_PER_CALL = 128;

/** Runs the script with these keys and arguments; resolves to its reply. */
export type ScriptCall = (keys: string[], args: string[]) => Promise<unknown>;

interface WaitingWrite {
  readonly key: string;
  readonly args: readonly string[];
  readonly resolve: (answer: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export class GatheredCalls {
  private waiting: WaitingWrite[] = [];
  private scheduled = false;
  /** Calls sent and not answered. */
  private inFlight = 0;

  /**
   * @param call runs the script
   * @param shared the script's first arguments, the same for every call
   * @param together whether writes of different streams may share a call (not on a Cluster)
   */
  constructor(
    private readonly call: ScriptCall,
    private readonly shared: readonly string[],
    private readonly together: boolean,
  ) {}

  /**
   * One stream's write (its key and arguments); resolves to the script's
   * answer for it. With `soon` false (nobody waits on it: no other instance
   * follows the stream), it waits for the next answer or turn of the loop
   * even while few calls are on their way, and goes gathered with others.
   */
  add(key: string, args: readonly string[], soon = true): Promise<unknown> {
    if (!this.together) return this.call([key], [...this.shared, ...args]).then(firstAnswer);
    return new Promise((resolve, reject) => {
      const write: WaitingWrite = { key, args, resolve, reject };
      if (soon && this.inFlight < CALLS_BEFORE_GATHERING) return this.send([write]);
      this.waiting.push(write);
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(this.flush);
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const waiting = this.waiting;
    this.waiting = [];
    for (let from = 0; from < waiting.length; from += STREAMS_PER_CALL) this.send(waiting.slice(from, from + STREAMS_PER_CALL));
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

  private send(writes: WaitingWrite[]): void {
    const keys: string[] = [];
    const args: string[] = [...this.shared];
    for (let i = 0; i < writes.length; i++) {
      const write = writes[i]!;
      keys.push(write.key);
      for (let j = 0; j < write.args.length; j++) args.push(write.args[j]!);
    }
    this.inFlight++;
    this.call(keys, args).then(
      (reply) => {
        this.answered();
        if (!Array.isArray(reply) || reply.length !== writes.length) {
          const error = new TypeError(`redisRelayStore: unexpected reply from Redis to a write of ${writes.length} streams.`);
          for (const write of writes) write.reject(error);
          return;
        }
        for (let i = 0; i < writes.length; i++) writes[i]!.resolve(reply[i]);
      },
      (error: unknown) => {
        this.answered();
        for (const write of writes) write.reject(error);
      },
    );
  }
}

function firstAnswer(reply: unknown): unknown {
  if (Array.isArray(reply) && reply.length === 1) return reply[0];
  throw new TypeError('redisRelayStore: unexpected reply from Redis to a write.');
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
