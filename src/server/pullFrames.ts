import { of, type Observable } from 'rxjs';

/**
 * How a writer tells a pulling frame stream where its client is: what is
 * still buffered for it, and when it has taken it.
 */
export interface FramesDemand {
  /** Bytes written for the client and not yet taken by it (Node: `response.writableLength`). */
  buffered(): number;
  /** Emits once (then completes) when the client has taken what was written: at once when nothing waits. */
  drained(): Observable<void>;
  /**
   * Optional: whether the client is backed up, so that `drained()` would not
   * emit at once (Node: `response.writableNeedDrain`). With it, a reader
   * asks `drained()` only then; without it, whenever `buffered()` is above 0.
   */
  backedUp?(): boolean;
}

/**
 * The key of the pull hook on a frame stream; shared by every copy of the package.
 *
 * @example
 * ```ts
 * // A writer of your own (a WebSocket, say) that paces the relay's reads to its client:
 * const frames = relay.frames(streamId, lastEventId);
 * const paced = PULL_FRAMES in frames ? frames[PULL_FRAMES]({ buffered: () => socket.bufferedAmount, drained: () => timer(50).pipe(map(() => undefined)) }) : frames;
 * paced.subscribe((frame) => socket.send(frame));
 * ```
 */
export const PULL_FRAMES: unique symbol = Symbol.for('rxjs-llm-stream.pullFrames') as never;

/**
 * A frame stream that reads its source only as fast as the client takes it
 * (`createRelay`'s `frames`). Subscribed as it is, it reads on at once; a
 * writer that knows its client (`writeServerSentEvents`,
 * `serverSentEventsResponse`) calls the hook with a `FramesDemand` instead,
 * and the stream then reads its next page only when the client has drained.
 */
export type PullFrames = Observable<string> & { readonly [PULL_FRAMES]: (demand: FramesDemand) => Observable<string> };

/** A demand that never waits: what a frame stream uses when nobody tells it of its client. */
export const UNPACED: FramesDemand = { buffered: () => 0, drained: () => of(undefined) };

/**
 * The frames `frames` yields for `demand`: through the hook when `frames`
 * pulls, else `frames` as it is.
 *
 * ```text
 * relay.frames(id)                  →  frames[PULL_FRAMES](demand)   (paced by the client)
 * source.pipe(toServerSentEvents())  →  the same observable           (paced by nothing)
 * ```
 *
 * @example
 * ```ts
 * const paced = pulledFrames(frames, { buffered: () => response.writableLength, drained });
 * ```
 */
export function pulledFrames(frames: Observable<string>, demand: FramesDemand): Observable<string> {
  const hook = (frames as Partial<PullFrames>)[PULL_FRAMES];
  return typeof hook === 'function' ? hook(demand) : frames;
}

/** `frames` with its pull hook: subscribed as it is, `paced(UNPACED)`. */
export function withPullHook(paced: (demand: FramesDemand) => Observable<string>): PullFrames {
  return Object.assign(paced(UNPACED), { [PULL_FRAMES]: paced });
}
