import { defer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { currentRetryChain } from '../src/internal/retryChain';
import { NetworkError } from '../src/errors';
import { followEventIds, type EventStreamMemory } from '../src/transport/followEventIds';
import type { EventSourceMessage } from '../src/transport';
import { retryWithBackoff } from '../src/operators/retryWithBackoff';
import { streamStartOf } from '../src/streamStart';

const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const newMemory = (lastEventId = ''): EventStreamMemory => ({ lastEventId, stream: {} });

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

  it("a retry: field is the chain's reconnection delay: retryWithBackoff waits that long, clamped to maxRetryAfter, and never gives up for it", () => {
    newScheduler().run(({ cold, expectObservable }) => {
      let subscriptions = 0;
      const source = defer(() => {
        subscriptions++;
        currentRetryChain()!.reconnectDelay = 90_000;
        return cold<EventSourceMessage>('-a-#', { a: { data: 'a', id: '1' } }, new NetworkError('cut'));
      });
      const result = source.pipe(followEventIds(newMemory(), false), retryWithBackoff({ initialDelay: 10, jitter: 'none', maxRetries: 1 }));
      expectObservable(result).toBe('-a- 60000ms -a-#', { a: { data: 'a', event: undefined, id: '1' } }, expect.objectContaining({ name: 'NetworkError' }));
    });
  });

  it('leaves the errors themselves alone: no retryAfterMs is made up from retry:', () => {
    const plain = new NetworkError('cut');
    newScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<EventSourceMessage>('#', {}, plain).pipe(followEventIds(newMemory(), false))).toBe('#', {}, plain);
    });
    expect('retryAfterMs' in plain).toBe(false);
  });

  it('ignores an id holding a control character that no header value may carry, as one holding NULL', () => {
    newScheduler().run(({ cold, flush }) => {
      const memory = newMemory();
      const after: string[] = [];
      cold('-a-b-c-d-e-|', {
        a: { data: 'a', id: '7' },
        b: { data: 'b', id: 'x\ny' },
        c: { data: 'c', id: 'x\u001by' },
        d: { data: 'd', id: 'x\u007fy' },
        e: { data: 'e', id: 'tab\tand café' },
      } as Record<string, EventSourceMessage>)
        .pipe(followEventIds(memory, false))
        .subscribe(() => after.push(memory.lastEventId));
      flush();
      expect(after).toEqual(['7', '7', '7', '7', 'tab\tand café']);
    });
  });
});
