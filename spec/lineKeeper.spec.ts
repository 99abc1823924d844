import { createLineKeeper } from '../src/cli/lineKeeper.js';

function terminal(sharedTerminal: boolean) {
  const log: Array<['out' | 'err', string]> = [];
  const keeper = createLineKeeper({
    stdout: { write: (text: string) => log.push(['out', text]) },
    stderr: { write: (text: string) => log.push(['err', text]) },
    sharedTerminal,
  });
  const of = (stream: 'out' | 'err') => log.filter(([s]) => s === stream).map(([, text]) => text).join('');
  return { keeper, screen: () => log.map(([, text]) => text).join(''), stdout: () => of('out'), stderr: () => of('err') };
}

describe('createLineKeeper', () => {
  it('on a shared terminal, breaks the line before a stderr line and resumes the unfinished line whole', () => {
    const t = terminal(true);
    t.keeper.answer('First line.\nThe quick bro');
    t.keeper.line('retry 1/3 in 5 ms: NetworkError: reset', { resume: true });
    t.keeper.answer('wn fox.\n');
    expect(t.screen()).toBe('First line.\nThe quick bro\nretry 1/3 in 5 ms: NetworkError: reset\nThe quick brown fox.\n');
  });

  it('adds no break at the start of a line, and resumes nothing when the answer is between lines', () => {
    const t = terminal(true);
    t.keeper.answer('Done.\n');
    t.keeper.line('retry 1/3', { resume: true });
    t.keeper.line('note: x');
    expect(t.screen()).toBe('Done.\nretry 1/3\nnote: x\n');
  });

  it('tracks an unfinished line that spans many pieces', () => {
    const t = terminal(true);
    for (const piece of ['a', 'b\nc', 'd', 'e']) t.keeper.answer(piece);
    t.keeper.line('retry', { resume: true });
    expect(t.screen()).toBe('ab\ncde\nretry\ncde');
    expect(t.keeper.cursorMidLine()).toBe(true);
  });

  it('off a shared terminal, keeps stdout to the answer alone, each piece once', () => {
    const t = terminal(false);
    t.keeper.answer('The quick bro');
    t.keeper.line('retry 1/3', { resume: true });
    t.keeper.answer('wn fox.');
    expect(t.stdout()).toBe('The quick brown fox.');
    expect(t.stderr()).toBe('retry 1/3\n');
    expect(t.keeper.answerEndsMidLine()).toBe(true);
  });
});
