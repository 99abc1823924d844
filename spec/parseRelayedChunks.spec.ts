import { TestScheduler } from 'rxjs/testing';
import { parseRelayedChunks, RelayedError } from '../src/operators/parseRelayedChunks';
import { markStreamStart, streamStartOf } from '../src/streamStart';
import { DONE } from '../src/types';
import { accumulateContent } from '../src/operators/accumulateContent';
import { untilDone } from '../src/operators/untilDone';

const chunk = (content: string) => ({ id: 'c', choices: [{ index: 0, delta: { content }, finish_reason: null }] });
const event = (content: string, extra: Record<string, string> = {}) => ({ data: JSON.stringify(chunk(content)), ...extra });

describe('parseRelayedChunks', () => {
  let rx: TestScheduler;
  beforeEach(() => {
    rx = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('parses plain events as chunks and turns done into DONE', () => {
    rx.run(({ cold, expectObservable }) => {
      const events = cold('-a-b-d|', { a: event('Hel'), b: event('lo'), d: { event: 'done', data: '[DONE]' } });
      expectObservable(events.pipe(parseRelayedChunks())).toBe('-a-b-d|', { a: chunk('Hel'), b: chunk('lo'), d: DONE });
    });
  });

  it('turns error and cancelled events into a RelayedError that keeps retryable and the upstream name', () => {
    rx.run(({ cold, expectObservable }) => {
      const failed = cold('-e', { e: { event: 'error', data: '{"name":"HttpError","message":"HTTP 503","retryable":true}' } });
      expectObservable(failed.pipe(parseRelayedChunks())).toBe(
        '-#',
        undefined,
        new RelayedError("parseRelayedChunks: the relay's stream failed (HttpError: HTTP 503)", 'HttpError', true),
      );
    });
    const errors: RelayedError[] = [];
    rx.run(({ cold }) => {
      cold('-c', { c: { event: 'cancelled', data: '{}' } }).pipe(parseRelayedChunks()).subscribe({ error: (error: RelayedError) => errors.push(error) });
    });
    expect(errors[0]).toMatchObject({ name: 'RelayedError', retryable: false });
  });

  it('lets a restart event start the snapshot over, and keeps a resume mark so it continues', () => {
    const resumed = markStreamStart(event(' world'), { resumed: true });
    const snapshots: string[] = [];
    rx.run(({ cold }) => {
      cold('-a-r-b-c-d|', { a: event('Hel'), r: event('Hi', { event: 'restart' }), b: event(' there'), c: resumed, d: { event: 'done', data: '[DONE]' } })
        .pipe(parseRelayedChunks(), untilDone(), accumulateContent())
        .subscribe((snapshot) => snapshots.push(snapshot.content));
    });
    expect(snapshots).toEqual(['Hel', 'Hi', 'Hi there', 'Hi there world']);
  });

  it('fails with a ParseError on an event that is not a chunk object', () => {
    rx.run(({ cold, expectObservable }) => {
      const errors = cold('-x', { x: { data: '[1,2]' } }).pipe(parseRelayedChunks());
      expectObservable(errors).toBe('-#', undefined, expect.objectContaining({ name: 'ParseError' }));
    });
    expect(streamStartOf(event('x'))).toBeUndefined();
  });
});
