import { Subscription, type Observable, type Observer } from 'rxjs';

/** What a linked subscriber does with each notification of its source. */
export interface LinkedHandlers<T> {
  next(value: T): void;
  error(error: unknown): void;
  complete(): void;
}

/**
 * Subscribes `handlers` to `source` through one subscriber that is tied to
 * `downstream`: when `downstream` is unsubscribed (it completed, errored, or
 * its consumer left), the subscription to `source` closes at once, even in
 * the middle of a synchronous emission, and no notification reaches
 * `handlers` after that. Returns that subscription.
 *
 * Why not `source.subscribe({ next, error, complete })`: RxJS wraps such an
 * observer in two objects and calls through both on every value, and a
 * synchronous source keeps emitting into it after `downstream` is gone. The
 * operators that run on every chunk (`untilDone`, `accumulateContent`) use
 * this instead; the subscriber is a `Subscription` with `next`, `error` and
 * `complete`, which RxJS 7 calls directly. Handlers must not throw: they
 * pass values and errors on to `downstream`.
 *
 * ```text
 * source:      -a-b-c-|
 * handlers:    -a-b-c-|     (downstream unsubscribed after b: -a-b, and source unsubscribed)
 * ```
 *
 * @example
 * ```ts
 * new Observable<number>((subscriber) =>
 *   subscribeLinked(source, subscriber, {
 *     next: (value) => subscriber.next(value * 2),
 *     error: (error) => subscriber.error(error),
 *     complete: () => subscriber.complete(),
 *   }),
 * );
 * ```
 */
export function subscribeLinked<T>(source: Observable<T>, downstream: Subscription, handlers: LinkedHandlers<T>): Subscription {
  const linked = new LinkedSubscriber(handlers);
  downstream.add(linked);
  source.subscribe(linked);
  return linked;
}

class LinkedSubscriber<T> extends Subscription implements Observer<T> {
  private stopped = false;

  constructor(private readonly handlers: LinkedHandlers<T>) {
    super();
  }

  next(value: T): void {
    if (!this.stopped) this.handlers.next(value);
  }

  error(error: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    try {
      this.handlers.error(error);
    } finally {
      this.unsubscribe();
    }
  }

  complete(): void {
    if (this.stopped) return;
    this.stopped = true;
    try {
      this.handlers.complete();
    } finally {
      this.unsubscribe();
    }
  }

  override unsubscribe(): void {
    this.stopped = true;
    super.unsubscribe();
  }
}
