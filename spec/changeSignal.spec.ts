import { TestScheduler } from 'rxjs/testing';
import { changeSignal } from '../src/server/changeSignal';

describe('changeSignal', () => {
  it('tells every listener subscribed at the time, and completes them at the end (marbles)', () => {
    new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(({ cold, expectObservable }) => {
      const signal = changeSignal();
      cold('--n----n--n--e', { n: 'notify', e: 'end' }).subscribe((call) => (call === 'notify' ? signal.notify() : signal.end()));
      expectObservable(signal.observable, '^').toBe('--x----x--x--|', { x: undefined });
      expectObservable(signal.observable, '-----^').toBe('-------x--x--|', { x: undefined });
      expectObservable(signal.observable, '^------!').toBe('--x----x', { x: undefined });
      expectObservable(signal.observable, '--------------^').toBe('--------------|');
    });
  });

  it('a listener that leaves during a notification does not stop the others; one that joins then hears the next', () => {
    const signal = changeSignal();
    const heard: string[] = [];
    const second = { unsubscribe: () => undefined as void };
    signal.observable.subscribe(() => {
      heard.push('first');
      second.unsubscribe();
      signal.observable.subscribe(() => heard.push('joined'));
    });
    const subscription = signal.observable.subscribe(() => heard.push('second'));
    second.unsubscribe = () => subscription.unsubscribe();
    signal.observable.subscribe(() => heard.push('third'));
    signal.notify();
    expect(heard).toEqual(['first', 'third']);
    heard.length = 0;
    signal.notify();
    expect(heard).toEqual(['first', 'third', 'joined']);
  });

  it('after the end, notify does nothing and a new listener completes at once', () => {
    const signal = changeSignal();
    signal.end();
    let completed = false;
    let heard = 0;
    signal.observable.subscribe({ next: () => heard++, complete: () => (completed = true) });
    signal.notify();
    expect({ completed, heard }).toEqual({ completed: true, heard: 0 });
  });
});
