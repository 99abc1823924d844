#!/usr/bin/env node
// The `rxjs-llm-stream` command: parse, run, set the exit code. Everything else lives beside it.
import { startMockChatServer } from '../testing/startMockChatServer.js';
import { EXIT, type ExitCode } from './exitCodes.js';
import { describeError } from './describeError.js';
import { parseCliArgs } from './parseCliArgs.js';
import { runChat, type CliIo } from './runChat.js';
import { USAGE } from './usage.js';

// A reader that goes away (`| head`) makes writes fail with EPIPE; that ends the run quietly, never with a stack trace.
let outputError: { error: unknown } | undefined;
const outputErrorListeners = new Set<(error: unknown) => void>();
process.stdout.on('error', (error) => {
  outputError ??= { error };
  for (const listener of [...outputErrorListeners]) listener(error);
});
process.stderr.on('error', () => {});

const io: CliIo = {
  stdout: { write: (text) => outputError !== undefined || process.stdout.write(text) },
  stderr: process.stderr,
  sharedTerminal: process.stdout.isTTY === true && process.stderr.isTTY === true,
  onInterrupt(listener) {
    process.once('SIGINT', listener);
    return () => process.removeListener('SIGINT', listener);
  },
  onOutputClosed(listener) {
    const once = (error: unknown) => {
      outputErrorListeners.delete(once);
      listener(error);
    };
    const failed = outputError;
    if (failed) queueMicrotask(() => once(failed.error));
    else outputErrorListeners.add(once);
    return () => outputErrorListeners.delete(once);
  },
};

/** The embedded mock server's script for `--mock`: a drop inside a character, then a clean answer. */
const MOCK_SCRIPT = [{ fault: { kind: 'drop', afterChunks: 6, atByte: 'midCharacter' } } as const, {}];

async function main(argv: string[]): Promise<ExitCode> {
  const parsed = parseCliArgs(argv, process.env);
  if (parsed.kind === 'help') {
    io.stdout.write(USAGE);
    return EXIT.ok;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`error: ${parsed.message}\nRun with --help for usage.\n`);
    return EXIT.usage;
  }
  const config = parsed.config;
  if (config.prompt === '' && !process.stdin.isTTY) config.prompt = (await readStdin()).trim();
  if (config.prompt === '') {
    process.stderr.write('error: no prompt; pass it as an argument or on stdin.\nRun with --help for usage.\n');
    return EXIT.usage;
  }
  if (config.mock) {
    const server = await startMockChatServer({ script: MOCK_SCRIPT });
    try {
      return await runChat(config, { baseURL: `${server.url}/v1` }, io);
    } finally {
      await server.close();
    }
  }
  // Trimmed: a key pasted with a trailing space or read from a CRLF file would otherwise be sent as is.
  const apiKey = process.env[config.apiKeyEnv]?.trim();
  if (!apiKey) {
    const other = config.apiKeyEnv === 'OPENAI_API_KEY' ? ' (or name another variable with --api-key-env)' : '';
    process.stderr.write(`error: no API key: set ${config.apiKeyEnv}${other}, or try --mock.\n`);
    return EXIT.usage;
  }
  if (/[\r\n\0]/.test(apiKey)) {
    process.stderr.write(`error: ${config.apiKeyEnv} contains a line break or NUL; set it to the key alone.\n`);
    return EXIT.usage;
  }
  return runChat(config, { baseURL: config.baseURL, apiKey }, io);
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (piece: string) => (text += piece));
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', reject);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`error: ${describeError(error)}\n`);
    process.exitCode = EXIT.failed;
  },
);
