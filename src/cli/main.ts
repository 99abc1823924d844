#!/usr/bin/env node
// The `rxjs-llm-stream` command: parse, run, set the exit code. Everything else lives beside it.
import { fstatSync } from 'node:fs';
import { startMockChatServer } from '../testing/startMockChatServer.js';
import { EXIT, type ExitCode } from './exitCodes.js';
import { describeError } from './describeError.js';
import { parseCliArgs } from './parseCliArgs.js';
import { resolveApiKey } from './resolveApiKey.js';
import { stripControls } from './stripControls.js';
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
  sharedTerminal: sameStream(1, 2) ?? (process.stdout.isTTY === true && process.stderr.isTTY === true),
  stdoutIsTerminal: process.stdout.isTTY === true,
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
    // The message may quote an argument; strip what a terminal would act on.
    process.stderr.write(`error: ${stripControls(parsed.message)}\nRun with --help for usage.\n`);
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
  const key = resolveApiKey(config, process.env);
  if (key.kind === 'error') {
    process.stderr.write(`error: ${key.message}\n`);
    return EXIT.usage;
  }
  const apiKey = key.apiKey;
  return runChat(config, { baseURL: config.baseURL, ...(apiKey !== undefined ? { apiKey } : {}) }, io);
}

/** Whether two file descriptors lead to one terminal, pipe or file (`2>&1`); `undefined` when that cannot be told. */
function sameStream(a: number, b: number): boolean | undefined {
  try {
    const [first, second] = [fstatSync(a), fstatSync(b)];
    return first.dev === second.dev && first.ino === second.ino;
  } catch {
    return undefined;
  }
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

/**
 * How long the process may still run once its exit code is decided, in ms:
 * time for a cancel `POST` of a background response to go out (the library
 * bounds it at 5 s), never a process left hanging on a request.
 */
const EXIT_GRACE_MS = 6_000;

/** Sets the exit code and makes sure the process ends: by itself once nothing is pending, or after `EXIT_GRACE_MS`. */
function exitWith(code: ExitCode): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
}

main(process.argv.slice(2)).then(
  (code) => exitWith(code),
  (error: unknown) => {
    process.stderr.write(`error: ${describeError(error)}\n`);
    exitWith(EXIT.failed);
  },
);
