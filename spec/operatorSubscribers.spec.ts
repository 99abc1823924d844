import { config, from, map, Observable, Subscriber, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { accumulateContent } from '../src/operators/accumulateContent';
import { untilDone } from '../src/operators/untilDone';
import { DONE, type ChatCompletionChunk } from '../src/types';

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

describe('untilDone and accumulateContent subscribe through RxJS\'s public API', () => {
  let stopped: unknown[];
  beforeEach(() => {
    stopped = [];
    config.onStoppedNotification = (notification) => stopped.push(notification);
  });
  afterEach(() => {
    config.onStoppedNotification = null;
  });

  it('hand their source an RxJS Subscriber, not a look-alike that only RxJS 7\'s duck-typed check lets through unwrapped', () => {
    const received: Subscriber<unknown>[] = [];
    const source = new Observable<ChatCompletionChunk | typeof DONE>((subscriber) => {
      received.push(subscriber);
      subscriber.next(chunk('a'));
      subscriber.next(DONE);
    });
    const contents: string[] = [];
    source.pipe(untilDone()).subscribe();
    source.pipe(untilDone(), accumulateContent()).subscribe((snapshot) => contents.push(snapshot.content));
    new Observable<ChatCompletionChunk>((subscriber) => {
      received.push(subscriber);
      subscriber.next(chunk('b'));
      subscriber.complete();
    })
      .pipe(accumulateContent())
      .subscribe((snapshot) => contents.push(snapshot.content));
    expect(received).toHaveLength(3);
    for (const subscriber of received) expect(subscriber).toBeInstanceOf(Subscriber);
    expect(contents).toEqual(['a', 'b']);
  });

  it('pass every notification on, and unsubscribe the source with the consumer (marbles)', () => {
    new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<ChatCompletionChunk | typeof DONE>('-a-b-D-c-|', { a: chunk('a'), b: chunk('b'), D: DONE, c: chunk('c') });
      expectObservable(source.pipe(untilDone(), accumulateContent(), map((snapshot) => snapshot.content))).toBe('-a-b-|', { a: 'a', b: 'ab' });
      expectSubscriptions(source.subscriptions).toBe('^----!');
      const endless = cold<ChatCompletionChunk | typeof DONE>('-a-b-c-d-', { a: chunk('a'), b: chunk('b'), c: chunk('c'), d: chunk('d') });
      expectObservable(endless.pipe(untilDone(), accumulateContent()), '^--!').toBe('-a-', { a: expect.objectContaining({ content: 'a' }) });
      expectSubscriptions(endless.subscriptions).toBe('^--!');
    });
  });

  it('read a synchronous source up to DONE, or up to what the consumer takes, with nothing reaching a stopped subscriber', () => {
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
});
