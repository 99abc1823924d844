import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { expectedOutput, startMockChatServer, type MockChatServer, type MockScenario } from '../src/testing/index.js';
import { ensureBuilt, ROOT } from './support/ensureBuilt';
import { waitFor } from './support/loopbackServer';

const CLI = join(ROOT, 'dist', 'esm', 'cli', 'main.js');
const KEY = 'sk-cli-secret-0123456789';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

interface RunOptions {
  env?: Record<string, string>;
  stdin?: string;
  onStdout?: (text: string, child: ChildProcess) => void;
  onStderr?: (text: string, child: ChildProcess) => void;
  /** A file descriptor for the child's stdout instead of a pipe. */
  stdoutFd?: number;
}

/** Runs the CLI with a clean environment (no real OPENAI_* variables). */
function runCli(args: string[], options: RunOptions = {}): Promise<Run> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...options.env };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', options.stdoutFd ?? 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (data: Buffer) => {
      stdout += data.toString();
      options.onStdout?.(stdout, child);
    });
    child.stderr!.on('data', (data: Buffer) => {
      stderr += data.toString();
      options.onStderr?.(stderr, child);
    });
    child.stdin!.end(options.stdin ?? '');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('rxjs-llm-stream (the CLI)', () => {
  let server: MockChatServer | undefined;
  const serve = async (options: Parameters<typeof startMockChatServer>[0]) => {
    server = await startMockChatServer({ apiKey: KEY, ...options });
    return { baseUrl: `${server.url}/v1`, requests: server.requests };
  };

  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(async () => {
    for (const child of children) child.kill('SIGKILL');
    await server?.close();
    server = undefined;
  });

  it('streams the answer to stdout and retry lines to stderr, sending model, system and prompt', async () => {
    const scenario: MockScenario = { text: 'Une réponse, 中文, 🚀.', tokenSize: 2 };
    const { baseUrl, requests } = await serve({ scenario, script: [{ fault: { kind: 'drop', afterChunks: 4, atByte: 'midCharacter' } }, { fault: { kind: 'status', status: 429, retryAfterMs: 20 } }, {}] });
    const run = await runCli(['--base-url', baseUrl, '--model', 'm-1', '--system', 'Be brief.', 'Say', 'hi'], { env: { OPENAI_API_KEY: KEY } });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${expectedOutput(scenario).content[0]}\n`);
    const retryLines = run.stderr.split('\n').filter((line) => line.startsWith('retry'));
    expect(retryLines).toHaveLength(2);
    expect(retryLines[0]).toMatch(/^retry 1\/3 in \d+ ms: NetworkError/);
    expect(retryLines[1]).toMatch(/^retry 2\/3 in \d+ ms: HTTP 429 Too Many Requests/);
    expect(requests).toHaveLength(3);
    expect(requests[0]!.body).toMatchObject({
      model: 'm-1',
      stream: true,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hi' },
      ],
    });
    expect(requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(run.stdout + run.stderr).not.toContain(KEY);
  });

  it('prints NDJSON deltas with --json, the final snapshot last', async () => {
    const { baseUrl } = await serve({ scenario: { text: 'json mode', tokenSize: 3 } });
    const run = await runCli(['--json', '--base-url', baseUrl, 'q'], { env: { OPENAI_API_KEY: KEY } });
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.slice(0, -1)).toEqual([
      { type: 'delta', content: 'jso' },
      { type: 'delta', content: 'n m' },
      { type: 'delta', content: 'ode' },
    ]);
    expect(lines.at(-1)).toMatchObject({ type: 'final', content: 'json mode', finishReason: 'stop', usage: { prompt_tokens: 12 } });
  });

  it('reads the key from the variable named by --api-key-env, and the base URL from OPENAI_BASE_URL', async () => {
    const { baseUrl, requests } = await serve({});
    const run = await runCli(['--api-key-env', 'MY_KEY', 'q'], { env: { MY_KEY: KEY, OPENAI_BASE_URL: baseUrl, OPENAI_MODEL: 'from-env' } });
    expect(run.code).toBe(0);
    expect(requests[0]!.body).toMatchObject({ model: 'from-env' });
  });

  it('trims the key it reads, and refuses one with a line break inside with exit 2', async () => {
    const { baseUrl, requests } = await serve({});
    const padded = await runCli(['--base-url', baseUrl, 'q'], { env: { OPENAI_API_KEY: ` ${KEY}\r\n` } });
    expect(padded.code).toBe(0);
    expect(requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    const broken = await runCli(['--base-url', baseUrl, 'q'], { env: { OPENAI_API_KEY: `${KEY}\nsecond-line` } });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toBe('error: OPENAI_API_KEY contains a line break or NUL; set it to the key alone.\n');
    expect(requests).toHaveLength(1);
  });

  it('reads the prompt from stdin', async () => {
    const { baseUrl, requests } = await serve({});
    const run = await runCli(['--base-url', baseUrl], { env: { OPENAI_API_KEY: KEY }, stdin: 'from a pipe\n' });
    expect(run.code).toBe(0);
    expect(requests[0]!.body).toMatchObject({ messages: [{ role: 'user', content: 'from a pipe' }] });
  });

  it('exits 2 naming the variable to set when there is no key', async () => {
    const run = await runCli(['q']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: no API key: set OPENAI_API_KEY/);
    const named = await runCli(['--api-key-env', 'OTHER_KEY', 'q']);
    expect(named.code).toBe(2);
    expect(named.stderr).toContain('set OTHER_KEY');
  });

  it('exits 1 on a 401 with the status and the provider message, without retrying', async () => {
    const { baseUrl, requests } = await serve({});
    const run = await runCli(['--base-url', baseUrl, 'q'], { env: { OPENAI_API_KEY: 'sk-wrong-key-987654321' } });
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe('error: HTTP 401 Unauthorized: Incorrect API key provided. Check the API key and its permissions.');
    expect(run.stderr).not.toContain('sk-wrong-key-987654321');
    expect(requests).toHaveLength(1);
  });

  it('a 401 from a keyed server on this machine that got no key says no key was sent, and how to give one', async () => {
    const { baseUrl, requests } = await serve({});
    const run = await runCli(['--base-url', baseUrl, 'q']);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      'error: HTTP 401 Unauthorized: Incorrect API key provided. Check the API key and its permissions.',
      'note: no API key was sent (because OPENAI_API_KEY is not set and the server is on this machine); this server wants one: set OPENAI_API_KEY (or name another variable with --api-key-env).',
    ]);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.headers.authorization).toBeUndefined();
    const noKey = await runCli(['--base-url', baseUrl, '--no-key', 'q'], { env: { OPENAI_API_KEY: KEY } });
    expect(noKey.stderr).toContain('note: no API key was sent (because of --no-key); this server wants one: set OPENAI_API_KEY (or name another variable with --api-key-env) and leave out --no-key.');
    expect(noKey.stderr).not.toContain(KEY);
  });

  it('exits 1 on a 403 without retrying, and never repeats the key a provider echoes back', async () => {
    const { baseUrl, requests } = await serve({ scenario: { fault: { kind: 'status', status: 403, message: `Key ${KEY} may not use this model` } } });
    const run = await runCli(['--base-url', baseUrl, 'q'], { env: { OPENAI_API_KEY: KEY } });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('error: HTTP 403 Forbidden: Key [redacted] may not use this model. Check the API key and its permissions.\n');
    expect(run.stdout).toBe('');
    expect(requests).toHaveLength(1);
  });

  it('starts the answer again on a new line when a retry regenerates a different text', async () => {
    const { baseUrl } = await serve({
      script: [
        { text: 'First try', tokenSize: 3, fault: { kind: 'drop', afterChunks: 3 } },
        { text: 'Second answer', tokenSize: 3 },
      ],
    });
    const run = await runCli(['--base-url', baseUrl, 'q'], { env: { OPENAI_API_KEY: KEY } });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('First \nSecond answer\n');
    expect(run.stderr).toMatch(/^retry 1\/3 in \d+ ms: (NetworkError|StreamInterruptedError): .*\n\[the stream restarted with a different answer; it follows in full\]\n$/);
  });

  it('stops quietly with exit 0 when the reader of stdout goes away (| head)', async () => {
    const { baseUrl, requests } = await serve({ scenario: { text: 'a long answer '.repeat(50), tokenSize: 2, paceMs: 20 } });
    let closed = false;
    const run = await runCli(['--base-url', baseUrl, 'q'], {
      env: { OPENAI_API_KEY: KEY },
      onStdout: (_stdout, child) => {
        if (!closed) {
          closed = true;
          child.stdout?.destroy();
        }
      },
    });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    await waitFor(() => requests[0]?.closedByClient === true);
    expect(requests).toHaveLength(1);
  });

  (existsSync('/dev/full') ? it : it.skip)('exits 1 naming the cause when stdout cannot be written (a full disk)', async () => {
    const { baseUrl, requests } = await serve({ scenario: { text: 'a long answer '.repeat(50), tokenSize: 2, paceMs: 5 } });
    const full = openSync('/dev/full', 'w');
    try {
      const run = await runCli(['--base-url', baseUrl, 'q'], { env: { OPENAI_API_KEY: KEY }, stdoutFd: full });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^error: cannot write the answer: Error: .*ENOSPC.*\n$/);
      await waitFor(() => requests[0]?.closedByClient === true);
    } finally {
      closeSync(full);
    }
  });

  it('exits 1 with the last cause once retries are exhausted', async () => {
    const { baseUrl, requests } = await serve({ scenario: { fault: { kind: 'status', status: 503, retryAfterMs: 5, message: 'Overloaded' } } });
    const run = await runCli(['--base-url', baseUrl, '--max-retries', '2', 'q'], { env: { OPENAI_API_KEY: KEY } });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n').at(-1)).toBe('error: gave up after 2 retries: HTTP 503 Service Unavailable: Overloaded');
    expect(requests).toHaveLength(3);
  });

  it('gives up on a stall after --idle-timeout', async () => {
    const { baseUrl, requests } = await serve({ scenario: { fault: { kind: 'stall', afterChunks: 2 } } });
    const run = await runCli(['--base-url', baseUrl, '--max-retries', '0', '--idle-timeout', '1000', 'q'], { env: { OPENAI_API_KEY: KEY } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('IdleTimeoutError: No data arrived for 1000 ms');
    expect(requests).toHaveLength(1);
  });

  it.each([
    [['--max-retries', '-1', 'q']],
    [['--idle-timeout', 'soon', 'q']],
    [['--base-url', 'ftp://example.test', 'q']],
    [['--unknown', 'q']],
    [[]],
  ])('exits 2 with a one-line error on bad usage: %j', async (args) => {
    const run = await runCli(args, { env: { OPENAI_API_KEY: KEY } });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: .+\nRun with --help for usage\.\n$/);
  });

  it('strips control characters from a usage error that quotes an argument', async () => {
    const run = await runCli(['--\x1b]0;owned\x07x', 'q'], { env: { OPENAI_API_KEY: KEY } });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: Unknown option '--x'/);
    expect(run.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });

  it('prints the help and exits 0', async () => {
    const run = await runCli(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('--api-key-env NAME');
    expect(run.stdout).toContain('--mock');
  });

  it('aborts the request on Ctrl-C and exits 130', async () => {
    const { baseUrl, requests } = await serve({ scenario: { text: 'a long answer '.repeat(50), tokenSize: 2, paceMs: 20 } });
    let interrupted = false;
    const run = await runCli(['--base-url', baseUrl, 'q'], {
      env: { OPENAI_API_KEY: KEY },
      onStdout: (stdout, child) => {
        if (!interrupted && stdout.length > 0) {
          interrupted = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(run.code).toBe(130);
    expect(run.stderr).toBe('aborted\n');
    expect(requests).toHaveLength(1);
    await waitFor(() => requests[0]!.closedByClient);
    expect(run.stdout.length).toBeLessThan('a long answer '.repeat(50).length);
  });

  it('aborts on Ctrl-C while waiting to retry, with no second request', async () => {
    const { baseUrl, requests } = await serve({ scenario: { fault: { kind: 'status', status: 503, retryAfterMs: 10_000 } } });
    let interrupted = false;
    const started = Date.now();
    const run = await runCli(['--base-url', baseUrl, 'q'], {
      env: { OPENAI_API_KEY: KEY },
      onStderr: (stderr, child) => {
        if (!interrupted && stderr.includes('retry 1/3 in 10000 ms')) {
          interrupted = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(run.code).toBe(130);
    expect(run.stderr.split('\n').filter(Boolean)).toEqual([expect.stringMatching(/^retry 1\/3 in 10000 ms: HTTP 503/), 'aborted']);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(requests).toHaveLength(1);
  });

  it('adds a note on stderr when the answer was cut at the token limit', async () => {
    const { baseUrl } = await serve({ scenario: { text: 'cut short', finishReason: 'length' } });
    const run = await runCli(['--base-url', baseUrl, 'q'], { env: { OPENAI_API_KEY: KEY } });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('cut short\n');
    expect(run.stderr).toBe('note: the answer was cut at the token limit (finish reason "length")\n');
  });

  it('--mock streams from the embedded server through a drop, with no key', async () => {
    const run = await runCli(['--mock', 'hello']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${expectedOutput().content[0]}\n`);
    expect(run.stderr).toMatch(/retry 1\/3 in \d+ ms: NetworkError/);
  });

  it('--mock --api responses --background resumes the drop: the exact answer, the response id and one retry on stderr', async () => {
    const run = await runCli(['--mock', '--api', 'responses', '--background', 'hello']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${expectedOutput().content[0]}\n`);
    expect(run.stderr).toMatch(/^response id: resp_mock_1\nretry 1\/3 in \d+ ms: NetworkError: [^\n]+\n$/);
  });

  it('--background without --api responses is a usage error (exit 2)', async () => {
    const run = await runCli(['--background', '--mock', 'hello']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('error: --background needs --api responses (only the Responses API can resume a response)\nRun with --help for usage.\n');
  });

  it('needs no key for a loopback server (the Ollama case), sending none when none is set', async () => {
    server = await startMockChatServer({});
    const run = await runCli(['--base-url', `${server.url}/v1`, 'q']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${expectedOutput().content[0]}\n`);
    expect(server.requests[0]!.headers.authorization).toBeUndefined();
    const localhost = await runCli(['--base-url', `${server.url.replace('127.0.0.1', 'localhost')}/v1`, 'q']);
    expect(localhost.code).toBe(0);
  });

  it('with --no-key sends no key even when one is set', async () => {
    server = await startMockChatServer({});
    const run = await runCli(['--no-key', '--base-url', `${server.url}/v1`, 'q'], { env: { OPENAI_API_KEY: KEY } });
    expect(run.code).toBe(0);
    expect(server.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('--timeout ends a stream that dribbles inside the idle timeout with exit 124 and aborts it', async () => {
    const { baseUrl, requests } = await serve({ scenario: { text: 'drip '.repeat(100), tokenSize: 1, paceMs: 100 } });
    const run = await runCli(['--base-url', baseUrl, '--idle-timeout', '5000', '--timeout', '1000', 'q'], { env: { OPENAI_API_KEY: KEY } });
    expect(run.code).toBe(124);
    expect(run.stderr).toMatch(/error: timed out: the answer did not complete within --timeout 1000 ms, so the request was aborted\n$/);
    await waitFor(() => requests[0]?.closedByClient === true);
    expect(run.stdout.length).toBeLessThan('drip '.repeat(100).length);
  });

  it('with stdout and stderr on one stream (2>&1), starts a retry line on its own line and resumes the unfinished line whole', async () => {
    const { baseUrl } = await serve({ scenario: { text: 'Hello there, world', tokenSize: 3 }, script: [{ fault: { kind: 'drop', afterChunks: 4 } }, {}] });
    const run = await new Promise<Run>((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', 'exec "$0" "$@" 2>&1', process.execPath, CLI, '--base-url', baseUrl, 'q'], {
        env: { PATH: process.env.PATH ?? '', OPENAI_API_KEY: KEY },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.add(child);
      let stdout = '';
      child.stdout!.on('data', (data: Buffer) => (stdout += data.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        children.delete(child);
        resolve({ code, stdout, stderr: '' });
      });
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Hello the\nretry 1\/3 in \d+ ms: [A-Za-z]+Error: [^\n]+\nHello there, world\n$/);
  });
});
