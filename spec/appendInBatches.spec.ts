import { timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { appendInBatches } from '../src/server/appendInBatches';

/** A write that takes `frames` of virtual time, recording each batch with the frame it started at. */
function slowWrite(scheduler: TestScheduler, frames: number, fail?: (batch: string[]) => boolean) {
  const writes: Array<[number, string[]]> = [];
  const write = (batch: string[]): PromiseLike<void> => {
    writes.push([scheduler.now(), [...batch]]);
    return {
      then: (done, failed) => {
        timer(frames, scheduler).subscribe(() => (fail?.(batch) ? failed?.(new Error(`write of ${batch.join()} failed`)) : done?.(undefined)));
        return undefined as never;
      },
    };
  };
  return { writes, write };
}

describe('appendInBatches', () => {
  const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

  it('writes one at a time, in order; what arrives meanwhile goes out together; completes once the last write is done', () => {
    const rx = scheduler();
    rx.run(({ cold, expectObservable, flush }) => {
      const { writes, write } = slowWrite(rx, 3);
      expectObservable(cold('-abc-------d-|').pipe(appendInBatches(write))).toBe('--------------|');
      flush();
      expect(writes).toEqual([
        [1, ['a']],
        [4, ['b', 'c']],
        [11, ['d']],
      ]);
    });
  });

  it('a write that fails errors the result, unsubscribes the source, and writes nothing more', () => {
    const rx = scheduler();
    rx.run(({ cold, expectObservable, expectSubscriptions, flush }) => {
      const { writes, write } = slowWrite(rx, 2, (batch) => batch.includes('b'));
      const source = cold('-a-b---c-|');
      expectObservable(source.pipe(appendInBatches(write))).toBe('-----#', undefined, new Error('write of b failed'));
      expectSubscriptions(source.subscriptions).toBe('^----!');
      flush();
      expect(writes.map(([, batch]) => batch)).toEqual([['a'], ['b']]);
    });
  });

  it('a source that errors has what is queued written first, then the error passed on', () => {
    const rx = scheduler();
    rx.run(({ cold, expectObservable, flush }) => {
      const { writes, write } = slowWrite(rx, 4);
      expectObservable(cold('-ab#').pipe(appendInBatches(write))).toBe('---------#');
      flush();
      expect(writes).toEqual([
        [1, ['a']],
        [5, ['b']],
      ]);
    });
  });
});
