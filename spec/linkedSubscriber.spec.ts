import { config, from, Observable, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { subscribeLinked } from '../src/internal/linkedSubscriber';
import { accumulateContent } from '../src/operators/accumulateContent';
import { untilDone } from '../src/operators/untilDone';
import { DONE, type ChatCompletionChunk } from '../src/types';

/** `source` doubled, through `subscribeLinked`. */
const doubled = (source: Observable<number>) =>
  new Observable<number>((subscriber) =>
    subscribeLinked(source, subscriber, {
      next: (value) => subscriber.next(value * 2),
      error: (error) => subscriber.error(error),
      complete: () => subscriber.complete(),
    }),
  );

const chunk = (content: string): ChatCompletionChunk => ({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] }) as ChatCompletionChunk;

/** A synchronous source that records what has been read from it. */
function recording<T>(values: T[], read: T[]): Observable<T> {
  return from(
    (function* () {
      for (const value of values) {
        read.push(value);
        yield value;
      }
    })(),
  );
}

describe('subscribeLinked', () => {
  let stopped: unknown[];
  beforeEach(() => {
    stopped = [];
    config.onStoppedNotification = (notification) => stopped.push(notification);
  });
  afterEach(() => {
    config.onStoppedNotification = null;
  });

  it('passes every notification to its handlers, and unsubscribes the source with the consumer', () => {
    new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-|', { a: 1, b: 2, c: 3 });
      expectObservable(doubled(source)).toBe('-a-b-c-|', { a: 2, b: 4, c: 6 });
      const failing = cold('-a-#', { a: 1 }, new Error('boom'));
      expectObservable(doubled(failing)).toBe('-a-#', { a: 2 }, new Error('boom'));
      const endless = cold('-a-b-c-d-', { a: 1, b: 2, c: 3, d: 4 });
      expectObservable(doubled(endless), '^--!').toBe('-a-', { a: 2 });
      expectSubscriptions(endless.subscriptions).toBe('^--!');
    });
  });

  it('stops a synchronous source as soon as the consumer leaves, with nothing reaching a stopped subscriber', () => {
    const read: number[] = [];
    const seen: number[] = [];
    doubled(recording([1, 2, 3, 4], read))
      .pipe(take(2))
      .subscribe((value) => seen.push(value));
    expect(seen).toEqual([2, 4]);
    expect(read).toEqual([1, 2]);
    expect(stopped).toEqual([]);
  });

  it('through untilDone and accumulateContent: a synchronous source is read up to DONE, or up to what the consumer takes', () => {
    const read: (ChatCompletionChunk | typeof DONE)[] = [];
    const contents: string[] = [];
    recording<ChatCompletionChunk | typeof DONE>([chunk('a'), chunk('b'), DONE, chunk('c')], read)
      .pipe(untilDone(), accumulateContent())
      .subscribe((snapshot) => contents.push(snapshot.content));
    expect(contents).toEqual(['a', 'ab']);
    expect(read).toHaveLength(3);

    const readTaken: (ChatCompletionChunk | typeof DONE)[] = [];
    const taken: string[] = [];
    recording<ChatCompletionChunk | typeof DONE>([chunk('a'), chunk('b'), chunk('c'), DONE], readTaken)
      .pipe(untilDone(), accumulateContent(), take(1))
      .subscribe((snapshot) => taken.push(snapshot.content));
    expect(taken).toEqual(['a']);
    expect(readTaken).toHaveLength(1);
    expect(stopped).toEqual([]);
  });

  it('delivers nothing after an error or completion, even when called on regardless', () => {
    const seen: string[] = [];
    const linkedOnly = new Observable<number>((subscriber) => {
      const linked = subscribeLinked(from([1]), subscriber, {
        next: (value) => seen.push(`next ${value}`),
        error: () => seen.push('error'),
        complete: () => seen.push('complete'),
      });
      // What a hand-written source that ignores the protocol would do after completing.
      const observer = linked as unknown as { next(value: number): void; error(error: unknown): void; complete(): void };
      observer.next(2);
      observer.error(new Error('late'));
      observer.complete();
      return linked;
    });
    linkedOnly.subscribe();
    expect(seen).toEqual(['next 1', 'complete']);
  });
});
