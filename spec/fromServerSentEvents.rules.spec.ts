import { TestScheduler } from 'rxjs/testing';
import { HttpError, NetworkError } from '../src/errors';
import { followEventIds, type EventStreamMemory } from '../src/internal/followEventIds';
import type { EventSourceMessage } from '../src/internal/transport';
import { retryWithBackoff } from '../src/operators/retryWithBackoff';
import { streamStartOf } from '../src/streamStart';

const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const newMemory = (lastEventId = ''): EventStreamMemory => ({ lastEventId, reconnectDelay: undefined, stream: {} });

describe('fromServerSentEvents rules (followEventIds)', () => {
  it('emits { data, event, id } with undefined for absent fields and keeps the last id across events', () => {
    const seen: string[] = [];
    newScheduler().run(({ cold, expectObservable }) => {
      const memory = newMemory();
      const events: Record<string, EventSourceMessage> = {
        a: { data: 'a', id: '1' },
        b: { data: 'b' },
        c: { data: 'c', event: 'note', id: '2' },
      };
      const result = cold('-a-b-c-|', events).pipe(followEventIds(memory, false));
      result.subscribe(() => seen.push(memory.lastEventId));
      expectObservable(result).toBe('-a-b-c-|', {
        a: { data: 'a', event: undefined, id: '1' },
        b: { data: 'b', event: undefined, id: undefined },
        c: { data: 'c', event: 'note', id: '2' },
      });
    });
    // The id persists over an event without id: ('b' leaves '1').
    expect(seen).toEqual(['1', '1', '2']);
  });

  it('an empty id resets the last event id; an id containing NULL is ignored', () => {
    newScheduler().run(({ cold, flush }) => {
      const memory = newMemory();
      const after: string[] = [];
      cold('-a-b-c-d-|', {
        a: { data: 'a', id: '7' },
        b: { data: 'b', id: 'x\0y' },
        c: { data: 'c', id: '' },
        d: { data: 'd', id: '9' },
      } as Record<string, EventSourceMessage>)
        .pipe(followEventIds(memory, false))
        .subscribe(() => after.push(memory.lastEventId));
      flush();
      expect(after).toEqual(['7', '7', '', '9']);
    });
  });

  it('marks only the first event with the stream token: resumed when a Last-Event-ID was sent, else fresh', () => {
    newScheduler().run(({ cold, flush }) => {
      const memory = newMemory('5');
      const resumed: unknown[] = [];
      const fresh: unknown[] = [];
      const two = { a: { data: 'a' }, b: { data: 'b' } };
      cold('-a-b-|', two).pipe(followEventIds(memory, true)).subscribe((event) => resumed.push(streamStartOf(event)));
      cold('-a-b-|', two).pipe(followEventIds(memory, false)).subscribe((event) => fresh.push(streamStartOf(event)));
      flush();
      expect(resumed).toEqual([{ resumed: true, stream: memory.stream }, undefined]);
      expect(resumed[0] && (resumed[0] as { stream: object }).stream).toBe(memory.stream);
      expect(fresh).toEqual([{ resumed: false, stream: memory.stream }, undefined]);
    });
  });

  it('after a retry: field, the errors carry it as retryAfterMs, and retryWithBackoff waits at least that long', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const memory = newMemory();
      memory.reconnectDelay = 3000;
      const source = cold<EventSourceMessage>('-a-#', { a: { data: 'a', id: '1' } }, new NetworkError('cut'));
      const result = source.pipe(followEventIds(memory, false), retryWithBackoff({ initialDelay: 10, jitter: 'none', maxRetries: 1 }));
      expectObservable(result).toBe('-a- 3000ms -a-#', { a: { data: 'a', event: undefined, id: '1' } }, expect.objectContaining({ retryAfterMs: 3000 }));
      expectSubscriptions(source.subscriptions).toBe(['^--!', '--- 3000ms ^--!']);
    });
  });

  it('keeps a larger Retry-After of the error itself, and leaves errors alone without retry:', () => {
    const large = new HttpError(503, 'busy', 5000);
    const small = new HttpError(503, 'busy', 50);
    const plain = new NetworkError('cut');
    newScheduler().run(({ cold, expectObservable }) => {
      const memory = newMemory();
      memory.reconnectDelay = 100;
      expectObservable(cold<EventSourceMessage>('#', {}, large).pipe(followEventIds(memory, false))).toBe('#', {}, large);
      expectObservable(cold<EventSourceMessage>('#', {}, small).pipe(followEventIds(memory, false))).toBe('#', {}, small);
      expectObservable(cold<EventSourceMessage>('#', {}, plain).pipe(followEventIds(newMemory(), false))).toBe('#', {}, plain);
    });
    expect(large.retryAfterMs).toBe(5000);
    expect(small.retryAfterMs).toBe(100);
    expect('retryAfterMs' in plain).toBe(false);
  });
});
