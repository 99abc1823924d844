import { Observable, type Subscriber } from 'rxjs';

/** Tells any number of listeners that something changed; see `changeSignal`. */
export interface ChangeSignal {
  /** Tells every listener now. */
  notify(): void;
  /** Completes every listener; later listeners complete at once, later `notify` calls do nothing. */
  end(): void;
  /** One listener per subscription: emits on every `notify`, completes on `end`. */
  readonly observable: Observable<void>;
}

/**
 * A `Subject<void>` for the relay's hot path, where every appended entry
 * notifies its log's readers: the listeners are an array replaced on every
 * subscribe and unsubscribe (rare) and walked by index on every `notify`
 * (per entry), so a notification allocates nothing. (RxJS's `Subject.next`,
 * as Node loads it, is ES5: an iterator and its results per call.)
 *
 * ```text
 * notify:       --n----n--n--|(end)
 * listener A:   --x----x--x--|
 * listener B:        --x--x--|      (subscribed after the first notify)
 * ```
 *
 * @example
 * ```ts
 * const changes = changeSignal();
 * changes.observable.subscribe(() => readAgain());
 * changes.notify();
 * ```
 */
export function changeSignal(): ChangeSignal {
  let listeners: readonly Subscriber<void>[] = [];
  let ended = false;
  return {
    notify() {
      const current = listeners;
      for (let i = 0; i < current.length; i++) current[i]!.next();
    },
    end() {
      ended = true;
      const current = listeners;
      listeners = [];
      for (let i = 0; i < current.length; i++) current[i]!.complete();
    },
    observable: new Observable<void>((subscriber) => {
      if (ended) return subscriber.complete();
      listeners = [...listeners, subscriber];
      return () => {
        listeners = listeners.filter((listener) => listener !== subscriber);
      };
    }),
  };
}
