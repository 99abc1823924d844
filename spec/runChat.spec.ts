import { runChat, type CliIo } from '../src/cli/runChat.js';
import type { CliConfig } from '../src/cli/parseCliArgs.js';
import { EXIT } from '../src/cli/exitCodes.js';
import { startMockChatServer, type MockChatServer, type MockChatServerOptions } from '../src/testing/index.js';
import { tokenize } from '../src/testing/scenario.js';
import { waitFor } from './support/loopbackServer';

/** A fake terminal: what went where, in order, plus triggers for Ctrl-C and a broken stdout. */
function fakeIo(sharedTerminal: boolean, stdoutIsTerminal = sharedTerminal) {
  const log: Array<['out' | 'err', string]> = [];
  let interrupt: (() => void) | undefined;
  let closeOutput: ((error: unknown) => void) | undefined;
  const io: CliIo = {
    stdout: { write: (text) => log.push(['out', text]) },
    stderr: { write: (text) => log.push(['err', text]) },
    sharedTerminal,
    stdoutIsTerminal,
    onInterrupt(listener) {
      interrupt = listener;
      return () => (interrupt = undefined);
    },
    onOutputClosed(listener) {
      closeOutput = listener;
      return () => (closeOutput = undefined);
    },
  };
  return {
    io,
    log,
    stdout: () => log.filter(([stream]) => stream === 'out').map(([, text]) => text).join(''),
    stderr: () => log.filter(([stream]) => stream === 'err').map(([, text]) => text).join(''),
    terminal: () => log.map(([, text]) => text).join(''),
    interrupt: () => interrupt?.(),
    closeOutput: (error: unknown) => closeOutput?.(error),
    listening: () => interrupt !== undefined || closeOutput !== undefined,
  };
}

const config = (overrides: Partial<CliConfig> = {}): CliConfig => ({
  prompt: 'q',
  apiKeyEnv: 'OPENAI_API_KEY',
  baseURL: '',
  model: 'm',
  maxRetries: 3,
  idleTimeout: 5000,
  timeout: 0,
  json: false,
  raw: false,
  noKey: false,
  mock: false,
  api: 'chat',
  background: false,
  ...overrides,
});

describe('runChat', () => {
  let server: MockChatServer | undefined;
  const serve = async (options: MockChatServerOptions) => {
    server = await startMockChatServer(options);
    return `${server.url}/v1`;
  };
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('on a shared terminal, starts a retry line on its own line and resumes with the unfinished line whole, splitting no word', async () => {
    // Chunks: role, "Hel", "lo ", "the" | drop | ...: the drop falls inside "there".
    const baseURL = await serve({ scenario: { text: 'Hello there, world', tokenSize: 3 }, script: [{ fault: { kind: 'drop', afterChunks: 4 } }, {}] });
    const fake = fakeIo(true);
    await expect(runChat(config(), { baseURL }, fake.io)).resolves.toBe(EXIT.ok);
    expect(fake.terminal()).toMatch(/^Hello the\nretry 1\/3 in \d+ ms: [A-Za-z]+Error: [^\n]+\nHello there, world\n$/);
    expect(fake.listening()).toBe(false);
  });

  it('off a shared terminal, writes stderr lines without a leading break and every piece of the answer once', async () => {
    const baseURL = await serve({ scenario: { text: 'Hello there, world', tokenSize: 3 }, script: [{ fault: { kind: 'drop', afterChunks: 4 } }, {}] });
    const fake = fakeIo(false);
    await expect(runChat(config(), { baseURL }, fake.io)).resolves.toBe(EXIT.ok);
    expect(fake.stderr()).toMatch(/^retry 1\/3 in \d+ ms: [^\n]+\n$/);
    expect(fake.stdout()).toBe('Hello there, world\n');
  });

  it('resolves 130 on Ctrl-C and the server sees the request closed', async () => {
    const baseURL = await serve({ scenario: { text: 'x'.repeat(400), tokenSize: 1, paceMs: 10 } });
    const fake = fakeIo(true);
    const code = runChat(config(), { baseURL }, fake.io);
    while (fake.stdout() === '') await new Promise((resolve) => setTimeout(resolve, 5));
    fake.interrupt();
    await expect(code).resolves.toBe(EXIT.interrupted);
    expect(fake.stderr()).toBe('\naborted\n');
    await waitFor(() => server!.requests[0]?.closedByClient === true);
    expect(fake.listening()).toBe(false);
  });

  it('resolves 0 quietly on EPIPE and 1 with the cause on any other write error', async () => {
    const baseURL = await serve({ scenario: { text: 'y'.repeat(400), tokenSize: 1, paceMs: 10 } });
    for (const [error, expected, stderr] of [
      [Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }), EXIT.ok, ''],
      [Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }), EXIT.failed, '\nerror: cannot write the answer: Error: ENOSPC: no space left on device, write\n'],
    ] as const) {
      const fake = fakeIo(true);
      const code = runChat(config(), { baseURL }, fake.io);
      while (fake.stdout() === '') await new Promise((resolve) => setTimeout(resolve, 5));
      fake.closeOutput(error);
      await expect(code).resolves.toBe(expected);
      expect(fake.stderr()).toBe(stderr);
    }
    await waitFor(() => server!.requests.length === 2 && server!.requests.every((request) => request.closedByClient));
  });

  it('prints NDJSON deltas with --json and the final snapshot last; a retry of the same text adds nothing twice', async () => {
    const baseURL = await serve({ scenario: { text: 'abcdef', tokenSize: 2 }, script: [{ fault: { kind: 'drop', afterChunks: 3 } }, {}] });
    const fake = fakeIo(true);
    await expect(runChat(config({ json: true }), { baseURL }, fake.io)).resolves.toBe(EXIT.ok);
    const lines = fake.stdout().trim().split('\n').map((line) => JSON.parse(line) as { type: string; content?: string; id?: string });
    expect(lines.map((line) => line.type)).toEqual(['delta', 'delta', 'delta', 'final']);
    expect(lines.slice(0, -1).map((line) => line.content)).toEqual(['ab', 'cd', 'ef']);
    expect(lines.at(-1)).toMatchObject({ type: 'final', content: 'abcdef', finishReason: 'stop', id: expect.any(String) });
    expect(fake.stderr()).toMatch(/^retry 1\/3 in \d+ ms: [^\n]+\n$/);
  });

  it('prints the final answer again when a retry ends with a shorter text than the one printed', async () => {
    const baseURL = await serve({
      script: [
        { text: 'Hello world, more', tokenSize: 3, fault: { kind: 'drop', afterChunks: 5 } },
        { text: 'Hello', tokenSize: 3 },
      ],
    });
    const fake = fakeIo(false);
    await expect(runChat(config(), { baseURL }, fake.io)).resolves.toBe(EXIT.ok);
    expect(fake.stdout()).toBe('Hello world,\nHello\n');
    expect(fake.stderr()).toMatch(/^retry 1\/3 in \d+ ms: [^\n]+\n\[the stream restarted with a different answer; it follows in full\]\n$/);
  });

  it('rejects at once, leaving no listener, when the library refuses the options', async () => {
    const fake = fakeIo(true);
    await expect(runChat(config(), { baseURL: 'not a url' }, fake.io)).rejects.toThrow(TypeError);
    expect(fake.listening()).toBe(false);
    expect(fake.log).toEqual([]);
  });

  describe('with a hostile server', () => {
    const hostile = 'Hi\x1b[2J\x1b[H \x1b]0;owned\x07there\x1b]52;c;ZWNobyBvd25lZA==\x07 \x1b]8;;https://evil.test\x1b\\link\x1b]8;;\x1b\\\u009b1m.\r\n';

    it('on a terminal, prints the answer without escape sequences or control characters, however the chunks split them', async () => {
      const baseURL = await serve({ scenario: { text: hostile, tokenSize: 1 } });
      const fake = fakeIo(false, true);
      await expect(runChat(config(), { baseURL }, fake.io)).resolves.toBe(EXIT.ok);
      expect(fake.stdout()).toBe('Hi there link.\n');
    });

    it('keeps the bytes with --raw, and in a pipe', async () => {
      const baseURL = await serve({ scenario: { text: hostile, tokenSize: 3 } });
      const raw = fakeIo(false, true);
      await expect(runChat(config({ raw: true }), { baseURL }, raw.io)).resolves.toBe(EXIT.ok);
      expect(raw.stdout()).toBe(hostile);
      const piped = fakeIo(false, false);
      await expect(runChat(config(), { baseURL }, piped.io)).resolves.toBe(EXIT.ok);
      expect(piped.stdout()).toBe(hostile);
    });

    it('always strips retry and error lines, even with --raw into a pipe', async () => {
      const message = 'Overloaded\x1b]52;c;ZWNobyBvd25lZA==\x07\x1b[2J now';
      const baseURL = await serve({
        script: [{ fault: { kind: 'error', afterChunks: 1, errorType: 'server_error', message } }, { fault: { kind: 'error', afterChunks: 0, errorType: 'invalid_request_error', message } }],
      });
      const fake = fakeIo(false, false);
      await expect(runChat(config({ raw: true }), { baseURL }, fake.io)).resolves.toBe(EXIT.failed);
      expect(fake.stderr()).toMatch(/^retry 1\/3 in \d+ ms: ApiError: [^\n]*Overloaded now\nerror: ApiError: [^\n]*Overloaded now\n$/);
      expect(fake.stderr()).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    });
  });

  it('prints a 50,000-chunk answer exactly, writing each character once', async () => {
    const text = Array.from({ length: 50_000 }, (_, i) => (i % 100 === 99 ? '\n' : String.fromCharCode(97 + (i % 26)))).join('') + '.';
    const baseURL = await serve({ scenario: { text, tokenSize: 1 } });
    const fake = fakeIo(false);
    await expect(runChat(config(), { baseURL }, fake.io)).resolves.toBe(EXIT.ok);
    expect(fake.stdout()).toBe(`${text}\n`);
    expect(fake.log.filter(([stream]) => stream === 'out').reduce((sum, [, piece]) => sum + piece.length, 0)).toBe(text.length + 1);
  }, 60_000);

  it('with a timeout, aborts an answer that is still streaming at the deadline, though bytes keep arriving, and resolves 124', async () => {
    const baseURL = await serve({ scenario: { text: 'slow '.repeat(200), tokenSize: 1, paceMs: 50 } });
    const fake = fakeIo(false);
    await expect(runChat(config({ timeout: 400, idleTimeout: 5000 }), { baseURL }, fake.io)).resolves.toBe(EXIT.timedOut);
    expect(fake.stderr()).toBe('error: timed out: the answer did not complete within --timeout 400 ms, so the request was aborted\n');
    await waitFor(() => server!.requests[0]?.closedByClient === true);
    expect(server!.requests).toHaveLength(1);
    expect(fake.listening()).toBe(false);
  });

  describe('--api responses', () => {
    // Tokens "Hel", "lo ", "the", "re," are events 4-7 (after created, in_progress, output_item.added,
    // content_part.added); the drop cuts event 8, the token " 世界", inside "世".
    const TEXT = 'Hello there, 世界, and the rest of the answer.';
    const scenario = { text: TEXT, tokenSize: 3 };
    const dropInside = { fault: { kind: 'drop', afterChunks: 8, atByte: 'midCharacter' } } as const;
    const paths = () => server!.requests.map((request) => `${request.method} ${request.path}`);

    it('sends POST /responses with { model, input } (the system message as instructions) and prints the answer', async () => {
      const baseURL = await serve({ scenario });
      const fake = fakeIo(false);
      await expect(runChat(config({ api: 'responses', system: 'Be brief.' }), { baseURL }, fake.io)).resolves.toBe(EXIT.ok);
      expect(paths()).toEqual(['POST /v1/responses']);
      expect(server!.requests[0]!.body).toEqual({ model: 'm', input: 'q', instructions: 'Be brief.', stream: true });
      expect(fake.stdout()).toBe(`${TEXT}\n`);
      expect(fake.stderr()).toBe('');
    });

    it('without --background, a drop restarts the response: a second POST, the text generated again, printed once', async () => {
      const baseURL = await serve({ scenario, script: [dropInside, {}] });
      const fake = fakeIo(false);
      await expect(runChat(config({ api: 'responses' }), { baseURL }, fake.io)).resolves.toBe(EXIT.ok);
      expect(paths()).toEqual(['POST /v1/responses', 'POST /v1/responses']);
      expect(fake.stdout()).toBe(`${TEXT}\n`);
      expect(server!.generatedTokens).toBeGreaterThan(tokenize(TEXT, 3).length);
    });

    it('with --background, prints the response id, resumes a drop mid-answer with GET ?starting_after, ends with the exact text, and the mock generated one answer', async () => {
      const baseURL = await serve({ scenario, script: [dropInside, {}] });
      const fake = fakeIo(false);
      await expect(runChat(config({ api: 'responses', background: true }), { baseURL }, fake.io)).resolves.toBe(EXIT.ok);
      expect(server!.requests[0]!.body).toEqual({ model: 'm', input: 'q', background: true, store: true, stream: true });
      expect(paths()).toEqual(['POST /v1/responses', 'GET /v1/responses/resp_mock_1?stream=true&starting_after=7']);
      expect(fake.stdout()).toBe(`${TEXT}\n`);
      expect(fake.stderr()).toMatch(/^response id: resp_mock_1\nretry 1\/3 in \d+ ms: NetworkError: [^\n]+\n$/);
      expect(server!.generatedTokens).toBe(tokenize(TEXT, 3).length);
    });

    it('with --background on a shared terminal, the resumed answer goes on after the retry line with its unfinished line whole', async () => {
      const baseURL = await serve({ scenario, script: [dropInside, {}] });
      const fake = fakeIo(true);
      await expect(runChat(config({ api: 'responses', background: true }), { baseURL }, fake.io)).resolves.toBe(EXIT.ok);
      expect(fake.terminal()).toMatch(new RegExp(`^response id: resp_mock_1\nHello there,\nretry 1/3 in \\d+ ms: NetworkError: [^\n]+\n${TEXT}\n$`));
    });

    it('with --background and --json, the deltas after the resume continue the answer: no restart line, the deltas join to the final text', async () => {
      const baseURL = await serve({ scenario, script: [dropInside, {}] });
      const fake = fakeIo(false);
      await expect(runChat(config({ api: 'responses', background: true, json: true }), { baseURL }, fake.io)).resolves.toBe(EXIT.ok);
      const lines = fake.stdout().trim().split('\n').map((line) => JSON.parse(line) as { type: string; content?: string });
      expect(lines.map((line) => line.type)).not.toContain('restart');
      expect(lines.filter((line) => line.type === 'delta').map((line) => line.content ?? '').join('')).toBe(TEXT);
      expect(lines.at(-1)).toMatchObject({ type: 'final', content: TEXT, finishReason: 'stop' });
      expect(server!.generatedTokens).toBe(tokenize(TEXT, 3).length);
    });

    it('with --background, Ctrl-C cancels the response at the provider; so does running out of retries (nobody will read it)', async () => {
      const baseURL = await serve({ scenario: { text: 'x'.repeat(400), tokenSize: 1, paceMs: 10 } });
      const fake = fakeIo(false);
      const code = runChat(config({ api: 'responses', background: true }), { baseURL }, fake.io);
      await waitFor(() => fake.stdout() !== '');
      fake.interrupt();
      await expect(code).resolves.toBe(EXIT.interrupted);
      await waitFor(() => paths().includes('POST /v1/responses/resp_mock_1/cancel'));
      await server!.close();

      // Every attempt drops: the last error ends the run, and the response nobody will read is cancelled.
      const dropped = await serve({ scenario, script: [dropInside] });
      const exhausted = fakeIo(false);
      await expect(runChat(config({ api: 'responses', background: true, maxRetries: 1 }), { baseURL: dropped }, exhausted.io)).resolves.toBe(EXIT.failed);
      expect(exhausted.stderr()).toMatch(/^response id: resp_mock_1\nretry 1\/1 in \d+ ms: [^\n]+\nerror: gave up after 1 retry: /);
      await waitFor(() => paths().includes('POST /v1/responses/resp_mock_1/cancel'));
      expect(paths()).toEqual(['POST /v1/responses', 'GET /v1/responses/resp_mock_1?stream=true&starting_after=7', 'POST /v1/responses/resp_mock_1/cancel']);
      const retrieved = (await (await fetch(`${dropped}/responses/resp_mock_1`)).json()) as { status: string };
      expect(retrieved.status).toBe('cancelled');
    });

    it('never prints a response id holding control characters or escape sequences: it is refused before any use', async () => {
      const id = 'resp_\x1b]0;owned\x07evil\x1b[2J\u009b1m';
      const response = { id, object: 'response', status: 'in_progress', model: 'm', output: [] };
      const chunks = [
        { type: 'response.created', sequence_number: 0, response },
        { type: 'response.output_text.delta', sequence_number: 1, output_index: 0, content_index: 0, delta: 'Hi' },
        { type: 'response.completed', sequence_number: 2, response: { ...response, status: 'completed' } },
      ];
      const baseURL = await serve({ scenario: { chunks } });
      const fake = fakeIo(false);
      await expect(runChat(config({ api: 'responses', background: true }), { baseURL }, fake.io)).resolves.toBe(EXIT.failed);
      expect(fake.stdout()).toBe('');
      expect(fake.stderr()).toMatch(/^error: ParseError: [^\n\x1b\x07\u009b]+\n$/);
      expect(fake.stderr()).not.toContain('owned');
    });
  });
});
