import { mergeMap, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { accumulateContent } from '../src/operators/accumulateContent';
import { untilDone } from '../src/operators/untilDone';
import { newResponsesFold, responsesEvents } from '../src/providers/responsesChunks';
import type { EventSourceMessage } from '../src/transport/serverSentEvents';
import type { ChatCompletionEvent } from '../src/types';

/** The Responses source's normalisation, as an operator over SSE messages. */
function normalise(messages: Observable<EventSourceMessage>): Observable<ChatCompletionEvent> {
  const fold = newResponsesFold();
  return messages.pipe(mergeMap((message) => responsesEvents(message, fold, { source: 'fromResponses', secrets: [] })));
}

const event = (json: object): EventSourceMessage => ({ data: JSON.stringify(json), event: undefined, id: undefined });
const created = event({ type: 'response.created', sequence_number: 0, response: { id: 'resp_1', model: 'm', status: 'in_progress' } });
const delta = (n: number, text: string) => event({ type: 'response.output_text.delta', sequence_number: n, output_index: 0, content_index: 0, delta: text });
const keepalive = event({ type: 'keepalive', sequence_number: 99 });
const completed = (n: number) =>
  event({ type: 'response.completed', sequence_number: n, response: { id: 'resp_1', model: 'm', status: 'completed', usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 } } });
const unknown = event({ type: 'response.future_event', sequence_number: 4 });

describe('fromResponses normalisation in virtual time', () => {
  let rx: TestScheduler;
  beforeEach(() => {
    rx = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('folds text deltas into snapshots and completes at the terminal event; keepalive and unknown events change nothing', () => {
    rx.run(({ cold, expectObservable }) => {
      const messages = cold('-c-a-k-b-u-d-|', { c: created, a: delta(1, 'Hel'), k: keepalive, b: delta(2, 'lo'), u: unknown, d: completed(5) });
      const contents = normalise(messages).pipe(untilDone(), accumulateContent());
      expectObservable(contents.pipe(mergeMap((snapshot) => [`${snapshot.content}|${snapshot.finishReason}`]))).toBe('-w-x---y---(z|)', {
        w: '|null',
        x: 'Hel|null',
        y: 'Hello|null',
        z: 'Hello|stop',
      });
    });
  });

  it('needs no trailing [DONE]: the terminal event ends the answer, and anything after it is ignored', () => {
    rx.run(({ cold, expectObservable }) => {
      const messages = cold('-a-d-b-|', { a: delta(1, 'Hi'), d: completed(2), b: delta(3, ' again') });
      const contents = normalise(messages).pipe(untilDone(), accumulateContent());
      expectObservable(contents.pipe(mergeMap((snapshot) => [snapshot.content]))).toBe('-x-(y|)', { x: 'Hi', y: 'Hi' });
    });
  });

  it('ends with a StreamInterruptedError when the body ends before the terminal event', () => {
    rx.run(({ cold, expectObservable }) => {
      const messages = cold('-a-|', { a: delta(1, 'Hi') });
      expectObservable(normalise(messages).pipe(untilDone(), mergeMap(() => ['v']))).toBe('-v-#', undefined, expect.objectContaining({ name: 'StreamInterruptedError' }));
    });
  });
});
