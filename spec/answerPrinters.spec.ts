import { from, lastValueFrom, tap, toArray } from 'rxjs';
import { createJsonPrinter, createTextPrinter, RESTART_NOTICE, type AnswerPrinter } from '../src/cli/answerPrinters.js';
import { createLineKeeper } from '../src/cli/lineKeeper.js';
import { accumulateContent } from '../src/operators/accumulateContent.js';
import { markStreamStart } from '../src/streamStart.js';
import type { ChatCompletionChunk, ChatCompletionSnapshot } from '../src/types.js';

/** Streams and the line keeper over them, counting every character written. */
function fakeStreams(sharedTerminal = false) {
  let stdout = '';
  let stderr = '';
  let terminal = '';
  const keeper = createLineKeeper({
    stdout: { write: (text: string) => ((stdout += text), (terminal += text)) },
    stderr: { write: (text: string) => ((stderr += text), (terminal += text)) },
    sharedTerminal,
  });
  return { keeper, stdout: () => stdout, stderr: () => stderr, terminal: () => terminal };
}

function contentChunk(id: string, content: string, extra: Partial<ChatCompletionChunk['choices'][number]['delta']> = {}): ChatCompletionChunk {
  return { id, choices: [{ index: 0, delta: { content, ...extra }, finish_reason: null }] };
}

/** Runs `attempts` (lists of chunks, one per subscription) through the real fold into `printer`. */
async function feed(printer: AnswerPrinter, attempts: ChatCompletionChunk[][]): Promise<void> {
  let last: ChatCompletionSnapshot | undefined;
  for (const chunks of attempts) {
    let current: ChatCompletionChunk | undefined;
    let newFold = true;
    await lastValueFrom(
      from(chunks).pipe(
        tap((chunk) => (current = chunk)),
        accumulateContent(),
        tap((snapshot) => {
          last = snapshot;
          printer.next(snapshot, current, newFold);
          newFold = false;
        }),
        toArray(),
      ),
    );
  }
  printer.complete(last);
}

const tokens = (text: string, size: number) => Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, (i + 1) * size));

describe('createTextPrinter', () => {
  // 50,000 chunks of one character, with a line break now and then; it ends mid-line.
  const answer = Array.from({ length: 50_000 }, (_, i) => (i % 80 === 79 ? '\n' : String.fromCharCode(97 + (i % 26)))).join('') + '.';
  const chunks = tokens(answer, 1).map((piece) => contentChunk('c1', piece));

  it('prints a 50,000-chunk answer exactly, with work linear in its length', async () => {
    const out = fakeStreams();
    const printer = createTextPrinter(out.keeper, false);
    await feed(printer, [chunks]);
    expect(out.stdout()).toBe(`${answer}\n`);
    // Comparing each snapshot with what was printed (the old way) costs about n²/2 = 1.3e9 characters.
    expect(printer.work()).toBeLessThanOrEqual(2 * answer.length);
  });

  it('stays linear through a retry that regenerates the same long text, printing nothing twice', async () => {
    const out = fakeStreams();
    const printer = createTextPrinter(out.keeper, false);
    await feed(printer, [chunks.slice(0, 30_000), chunks.map((chunk) => ({ ...chunk, id: 'c2' }))]);
    expect(out.stdout()).toBe(`${answer}\n`);
    expect(out.stderr()).toBe('');
    expect(printer.work()).toBeLessThanOrEqual(3 * answer.length);
  });

  it('prints a notice and the new answer in full on its own line when a retry generates a different text', async () => {
    const out = fakeStreams();
    const printer = createTextPrinter(out.keeper, false);
    await feed(printer, [tokens('First try', 3).map((t) => contentChunk('c1', t)), tokens('First answer', 3).map((t) => contentChunk('c2', t))]);
    expect(out.stdout()).toBe('First try\nFirst answer\n');
    expect(out.stderr()).toBe(`${RESTART_NOTICE}\n`);
  });

  it('notices a fold that starts over inside one subscription (a fresh response), reading its whole text once', async () => {
    const out = fakeStreams();
    const printer = createTextPrinter(out.keeper, false);
    const fresh = markStreamStart(contentChunk('c2', 'Xy'), { resumed: false });
    await feed(printer, [[contentChunk('c1', 'Abc'), contentChunk('c1', 'def'), fresh, contentChunk('c2', 'z')]]);
    expect(out.stdout()).toBe('Abcdef\nXyz\n');
    expect(out.stderr()).toBe(`${RESTART_NOTICE}\n`);
  });

  it('on a shared terminal puts no blank line between the notice and the new answer', async () => {
    const out = fakeStreams(true);
    await feed(createTextPrinter(out.keeper, false), [[contentChunk('c1', 'One')], [contentChunk('c2', 'Two')]]);
    expect(out.terminal()).toBe(`One\n${RESTART_NOTICE}\nTwo\n`);
  });

  it('removes escape sequences split across chunks when stripping, and keeps them when not', async () => {
    const hostile = 'Hi \x1b]52;c;ZXZpbA==\x07there\x1b[2J \x1b]8;;https://evil.test\x1b\\link\x1b]8;;\x1b\\\r\n';
    for (const size of [1, 2, 5]) {
      const stripped = fakeStreams();
      await feed(createTextPrinter(stripped.keeper, true), [tokens(hostile, size).map((t) => contentChunk('c1', t))]);
      expect(stripped.stdout()).toBe('Hi there link\n');
      const raw = fakeStreams();
      await feed(createTextPrinter(raw.keeper, false), [tokens(hostile, size).map((t) => contentChunk('c1', t))]);
      expect(raw.stdout()).toBe(hostile);
    }
  });
});

describe('createJsonPrinter', () => {
  const parse = (stdout: string) => stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown> & { type: string });

  /** What a reader of the lines rebuilds: deltas joined, starting over at each restart. */
  function rebuild(lines: ReturnType<typeof parse>) {
    let text = { content: '', reasoning: '', refusal: '' };
    let calls: Record<number, { id?: string; name?: string; arguments: string }> = {};
    for (const line of lines) {
      if (line.type === 'restart') {
        text = { content: '', reasoning: '', refusal: '' };
        calls = {};
      }
      if (line.type !== 'delta') continue;
      for (const field of ['content', 'reasoning', 'refusal'] as const) text[field] += (line[field] as string | undefined) ?? '';
      for (const fragment of (line.toolCalls as { index: number; id?: string; name?: string; arguments?: string }[] | undefined) ?? []) {
        const call = (calls[fragment.index] ??= { arguments: '' });
        if (fragment.id !== undefined) call.id = fragment.id;
        if (fragment.name !== undefined) call.name = fragment.name;
        call.arguments += fragment.arguments ?? '';
      }
    }
    return { ...text, calls: Object.values(calls) };
  }

  it('prints a 40 KB answer in output that grows linearly, the final snapshot last', async () => {
    const answer = 'x'.repeat(40_000);
    const out = fakeStreams();
    const printer = createJsonPrinter(out.keeper);
    await feed(printer, [tokens(answer, 4).map((t) => contentChunk('c1', t))]);
    const lines = parse(out.stdout());
    expect(lines.at(-1)).toMatchObject({ type: 'final', content: answer });
    expect(rebuild(lines).content).toBe(answer);
    // One short line per chunk, and the final snapshot (its content twice: once more in `choices`).
    expect(out.stdout().length).toBeLessThan(40 * 10_000 + 3 * answer.length);
    expect(printer.work()).toBeLessThanOrEqual(2 * answer.length);
  });

  it('sends reasoning and tool-call fragments as deltas that rebuild the final snapshot', async () => {
    const chunks: ChatCompletionChunk[] = [
      { id: 'c1', choices: [{ index: 0, delta: { reasoning_content: 'Think' }, finish_reason: null }] },
      { id: 'c1', choices: [{ index: 0, delta: { reasoning_content: 'ing.' }, finish_reason: null }] },
      contentChunk('c1', 'Calling.'),
      { id: 'c1', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get', arguments: '{"a"' } }] }, finish_reason: null }] },
      { id: 'c1', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }, finish_reason: null }] },
      { id: 'c1', choices: [{ index: 0, delta: { tool_calls: [{ index: 1, id: 'call_2', function: { name: 'put', arguments: '{}' } }] }, finish_reason: 'tool_calls' }] },
    ];
    const out = fakeStreams();
    await feed(createJsonPrinter(out.keeper), [chunks]);
    const lines = parse(out.stdout());
    expect(lines.map((line) => line.type)).toEqual(['delta', 'delta', 'delta', 'delta', 'delta', 'delta', 'final']);
    expect(rebuild(lines)).toEqual({
      content: 'Calling.',
      reasoning: 'Thinking.',
      refusal: '',
      calls: [
        { id: 'call_1', name: 'get', arguments: '{"a":1}' },
        { id: 'call_2', name: 'put', arguments: '{}' },
      ],
    });
    expect(lines.at(-1)).toMatchObject({ type: 'final', finishReason: 'tool_calls', toolCalls: [{ id: 'call_1' }, { id: 'call_2' }] });
  });

  it('prints a restart line, then the new answer so far, when a retry generates a different text', async () => {
    const out = fakeStreams();
    await feed(createJsonPrinter(out.keeper), [
      [contentChunk('c1', 'Fir'), contentChunk('c1', 'st')],
      [contentChunk('c2', 'Fi'), contentChunk('c2', 'nal'), contentChunk('c2', '!')],
    ]);
    const lines = parse(out.stdout());
    expect(lines.map(({ type, content }) => [type, content])).toEqual([
      ['delta', 'Fir'],
      ['delta', 'st'],
      ['restart', undefined],
      ['delta', 'Final'],
      ['delta', '!'],
      ['final', 'Final!'],
    ]);
    expect(rebuild(lines).content).toBe('Final!');
  });

  it('restarts when the last attempt ends shorter than what was printed, so the deltas always rebuild the final text', async () => {
    const out = fakeStreams();
    await feed(createJsonPrinter(out.keeper), [[contentChunk('c1', 'Hello'), contentChunk('c1', ' world')], [contentChunk('c2', 'Hello')]]);
    const lines = parse(out.stdout());
    expect(lines.map((line) => line.type)).toEqual(['delta', 'delta', 'restart', 'delta', 'final']);
    expect(rebuild(lines).content).toBe('Hello');
  });

  it('escapes C1 controls, DEL and line separators, so a line is safe on a terminal and parses to the same text', async () => {
    const hostile = 'a\u009b2J\u009d0;t\u0007\u007f\u2028\u001b[31mb';
    const out = fakeStreams();
    await feed(createJsonPrinter(out.keeper), [[contentChunk('c1', hostile)]]);
    expect(out.stdout()).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(parse(out.stdout()).at(-1)).toMatchObject({ content: hostile });
  });
});
