import { runChat, type CliIo } from '../src/cli/runChat.js';
import type { CliConfig } from '../src/cli/parseCliArgs.js';
import { EXIT } from '../src/cli/exitCodes.js';
import { startMockChatServer, type MockChatServer } from '../src/testing/index.js';

/** A server-chosen response id reaches stderr as one clean line of bounded length, or not at all. */
function io() {
  const err: string[] = [];
  const out: string[] = [];
  const cli: CliIo = {
    stdout: { write: (text) => out.push(text) },
    stderr: { write: (text) => err.push(text) },
    sharedTerminal: false,
    stdoutIsTerminal: false,
    onInterrupt: () => () => undefined,
    onOutputClosed: () => () => undefined,
  };
  return { cli, stderr: () => err.join(''), stdout: () => out.join('') };
}

const config: CliConfig = {
  prompt: 'q', apiKeyEnv: 'OPENAI_API_KEY', baseURL: '', model: 'm', maxRetries: 1, idleTimeout: 5000, timeout: 0,
  json: false, raw: false, noKey: false, mock: false, api: 'responses', background: true,
};

const chunksWithId = (id: string) => {
  const response = { id, object: 'response', status: 'in_progress', model: 'm', output: [] };
  return [
    { type: 'response.created', sequence_number: 0, response },
    { type: 'response.output_text.delta', sequence_number: 1, output_index: 0, content_index: 0, delta: 'Hi' },
    { type: 'response.completed', sequence_number: 2, response: { ...response, status: 'completed' } },
  ];
};

describe('the CLI prints a server-chosen response id as one clean, capped line', () => {
  let server: MockChatServer | undefined;
  afterEach(() => server?.close());

  it.each([
    ['a line feed that would forge a stderr line', 'resp_1\nerror: forged'],
    ['a 3 MB id', `resp_${'a'.repeat(3_000_000)}`],
  ])('%s', async (_name, id) => {
    server = await startMockChatServer({ scenario: { chunks: chunksWithId(id) } });
    const fake = io();
    await runChat(config, { baseURL: `${server.url}/v1` }, fake.cli);
    const lines = fake.stderr().split('\n').filter((line) => line !== '');
    expect(lines.every((line) => line.length <= 600)).toBe(true);
    expect(lines.some((line) => line.startsWith('error: forged'))).toBe(false);
  });

  it('a sound id is printed whole, on its own line', async () => {
    server = await startMockChatServer({ scenario: { chunks: chunksWithId('resp_68af1e2f3b4c8190') } });
    const fake = io();
    await expect(runChat(config, { baseURL: `${server.url}/v1` }, fake.cli)).resolves.toBe(EXIT.ok);
    expect(fake.stderr()).toBe('response id: resp_68af1e2f3b4c8190\n');
    expect(fake.stdout()).toBe('Hi\n');
  });
});
