import { parseCliArgs, type CliConfig } from '../src/cli/parseCliArgs.js';

function config(argv: string[], env: NodeJS.ProcessEnv = {}): CliConfig {
  const parsed = parseCliArgs(argv, env);
  if (parsed.kind !== 'run') throw new Error(`expected a config, got ${JSON.stringify(parsed)}`);
  return parsed.config;
}

function usageError(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  const parsed = parseCliArgs(argv, env);
  if (parsed.kind !== 'error') throw new Error(`expected a usage error, got ${JSON.stringify(parsed)}`);
  return parsed.message;
}

describe('parseCliArgs', () => {
  it('has the documented defaults and joins the positionals into the prompt', () => {
    expect(config(['Say', 'hi'])).toEqual({
      prompt: 'Say hi',
      apiKeyEnv: 'OPENAI_API_KEY',
      baseURL: 'https://api.openai.com/v1',
      model: 'gpt-4o-mini',
      system: undefined,
      maxRetries: 3,
      idleTimeout: 60_000,
      timeout: 0,
      json: false,
      raw: false,
      noKey: false,
      mock: false,
      api: 'chat',
      background: false,
    });
  });

  it('takes the base URL and model from the environment, flags winning over it', () => {
    const env = { OPENAI_BASE_URL: 'http://127.0.0.1:1234/v1/', OPENAI_MODEL: 'env-model' };
    expect(config(['q'], env)).toMatchObject({ baseURL: 'http://127.0.0.1:1234/v1', model: 'env-model' });
    expect(config(['--base-url', 'https://example.test/api', '--model', 'flag-model', 'q'], env)).toMatchObject({
      baseURL: 'https://example.test/api',
      model: 'flag-model',
    });
  });

  it('reads every flag', () => {
    const argv = ['--system', 'Be brief.', '--api-key-env', 'MY_KEY', '--max-retries', '0', '--idle-timeout', '0', '--timeout', '90000', '--json', '--raw', '--no-key', '--mock', 'q'];
    expect(config(argv)).toMatchObject({
      system: 'Be brief.',
      apiKeyEnv: 'MY_KEY',
      maxRetries: 0,
      idleTimeout: 0,
      timeout: 90_000,
      json: true,
      raw: true,
      noKey: true,
      mock: true,
      prompt: 'q',
    });
  });

  it('leaves the prompt empty when there is none, for stdin to fill', () => {
    expect(config([]).prompt).toBe('');
  });

  it('takes --api responses and --background', () => {
    expect(config(['--api', 'responses', 'q'])).toMatchObject({ api: 'responses', background: false });
    expect(config(['--api=responses', '--background', 'q'])).toMatchObject({ api: 'responses', background: true, prompt: 'q' });
    expect(config(['--api', 'chat', 'q'])).toMatchObject({ api: 'chat', background: false });
  });

  it('asks for help with --help or -h, whatever else is there', () => {
    expect(parseCliArgs(['--help'], {})).toEqual({ kind: 'help' });
    expect(parseCliArgs(['-h', '--max-retries', 'x'], {})).toEqual({ kind: 'help' });
  });

  it.each([
    [['--max-retries=-1', 'q'], '--max-retries must be an integer >= 0, got "-1"'],
    [['--max-retries', '1.5', 'q'], '--max-retries must be an integer >= 0, got "1.5"'],
    [['--idle-timeout', 'soon', 'q'], '--idle-timeout must be an integer >= 0, got "soon"'],
    [['--timeout', '2s', 'q'], '--timeout must be an integer >= 0, got "2s"'],
    [['--timeout', '2147483648', 'q'], '--timeout must be at most 2147483647, got "2147483648"'],
    [['--api-key-env', 'not a name', 'q'], '--api-key-env must be a variable name, got "not a name"'],
    [['--base-url', 'ftp://example.test', 'q'], '--base-url must be an absolute http(s) URL'],
    [['--base-url', 'http://[broken', 'q'], '--base-url must be an absolute http(s) URL'],
    [['--api', 'completions', 'q'], '--api must be "chat" or "responses", got "completions"'],
    [['--background', 'q'], '--background needs --api responses (only the Responses API can resume a response)'],
    [['--api', 'chat', '--background', 'q'], '--background needs --api responses (only the Responses API can resume a response)'],
  ])('rejects %j with a one-line message', (argv, message) => {
    expect(usageError(argv)).toBe(message);
  });

  it('rejects unknown flags and flags missing their value in one line', () => {
    expect(usageError(['--unknown', 'q'])).toMatch(/^Unknown option '--unknown'/);
    expect(usageError(['q', '--model'])).toMatch(/--model/);
    expect(usageError(['--max-retries', '-1', 'q'])).toMatch(/^Option '--max-retries' argument is ambiguous\. .*'--max-retries=-XYZ'/);
    for (const message of [usageError(['--unknown']), usageError(['q', '--model']), usageError(['--max-retries', '-1'])]) expect(message).not.toContain('\n');
  });

  it('names OPENAI_BASE_URL when the bad URL came from it, without repeating the value', () => {
    const message = usageError(['q'], { OPENAI_BASE_URL: 'not-a-url?key=sk-secret' });
    expect(message).toBe('OPENAI_BASE_URL must be an absolute http(s) URL');
  });
});
