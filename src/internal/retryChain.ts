/**
 * Cold sources, resumable retries: where what a retry carries over lives.
 *
 * A source is a recipe: every subscription is an independent request, and two
 * subscriptions to one observable (in parallel, or one after the other) never
 * share a `Last-Event-ID`, a Responses API resume point or a continuation
 * text. What a retry must carry over belongs to the **retry chain**: the
 * successive subscriptions that one `retryWithBackoff` makes for one
 * subscriber of its own.
 *
 * `retryWithBackoff` opens a chain per subscription it gets, and makes every
 * upstream subscription of that chain inside `inRetryChain(chain, ...)`. A
 * source, when subscribed, asks `currentRetryChain()` for the chain it is
 * subscribed in (subscribing runs synchronously down the pipe, through
 * `map`, `untilDone`, `accumulateContent` and the like) and keeps its
 * per-chain state under its own key (`chainState`): the second subscription
 * of a chain finds what the first left (and resumes), a subscription of
 * another chain finds nothing (and starts fresh). A chain's `onEnd`
 * callbacks run once, when its last subscription ends and no retry follows
 * (unsubscribed at any moment, during a retry wait included; a final error;
 * completion): a background Responses answer is cancelled there.
 *
 * Without a chain (a plain subscription, RxJS's own `retry`, or an async hop
 * such as `subscribeOn` between the source and `retryWithBackoff`) every
 * subscription is its own chain: it starts fresh and nothing carries over.
 *
 * The current chain sits on `globalThis` under a `Symbol.for` key, so the ESM
 * and CJS copies of the package (the dual-package hazard) see the same one.
 * It is set only during a synchronous `subscribe` call and restored in a
 * `finally`, so nothing leaks to an unrelated subscription.
 */

/** What one retry chain carries from one subscription of a source to the next. */
export interface RetryChain {
  /** Each source's state for this chain, under the key that source made. */
  readonly states: Map<object, unknown>;
  /**
   * The least wait (ms) before the next resubscription that a source of the
   * chain asked for (an SSE `retry:` field). `retryWithBackoff` waits at
   * least this, clamped to its `maxRetryAfter`.
   */
  reconnectDelay: number | undefined;
  /** Runs `callback` once when the chain ends. */
  onEnd(callback: () => void): void;
}

const CURRENT = Symbol.for('rxjs-llm-stream.retryChain');

type ChainSlot = { [CURRENT]?: RetryChain | undefined };

/** A new, open chain and the function that ends it (runs its `onEnd` callbacks once). */
export function newRetryChain(): { chain: RetryChain; end: () => void } {
  const callbacks: Array<() => void> = [];
  let ended = false;
  const chain: RetryChain = {
    states: new Map(),
    reconnectDelay: undefined,
    onEnd: (callback) => {
      if (ended) callback();
      else callbacks.push(callback);
    },
  };
  const end = () => {
    if (ended) return;
    ended = true;
    for (const callback of callbacks.splice(0)) {
      try {
        callback();
      } catch {
        // A cleanup has no one to report to; the others still run.
      }
    }
  };
  return { chain, end };
}

/** Runs `subscribe` with `chain` as the current chain, restoring the previous one afterwards. */
export function inRetryChain<R>(chain: RetryChain, subscribe: () => R): R {
  const slot = globalThis as ChainSlot;
  const previous = slot[CURRENT];
  slot[CURRENT] = chain;
  try {
    return subscribe();
  } finally {
    slot[CURRENT] = previous;
  }
}

/** The chain the current synchronous `subscribe` runs in, if any. */
export function currentRetryChain(): RetryChain | undefined {
  return (globalThis as ChainSlot)[CURRENT];
}

/**
 * The state a source keeps for the current subscription's chain: `create()`d
 * on the chain's first subscription (with `end` registered for the chain's
 * end), found again on the next ones. Without a chain, a new state whose
 * `end` runs when `ownEnd` is called (the subscription's own end).
 */
export function chainState<S>(key: object, create: () => S, end?: (state: S) => void): { state: S; chain: RetryChain | undefined } {
  const chain = currentRetryChain();
  if (chain === undefined) return { state: create(), chain };
  if (chain.states.has(key)) return { state: chain.states.get(key) as S, chain };
  const state = create();
  chain.states.set(key, state);
  if (end) chain.onEnd(() => end(state));
  return { state, chain };
}
