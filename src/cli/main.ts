#!/usr/bin/env node
import { startMockChatServer } from '../testing/startMockChatServer.js';
import { parseCliArgs } from './parseCliArgs.js';
import { EXIT, runChat, type CliIo } from './runChat.js';
import { USAGE } from './usage.js';

const io: CliIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  onInterrupt(listener) {
    process.once('SIGINT', listener);
    return () => process.removeListener('SIGINT', listener);
  },
};

async function main(argv: string[]): Promise<number> {
  const parsed = parseCliArgs(argv, process.env);
  if (parsed.kind === 'help') {
    process.stdout.write(USAGE);
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
    const server = await startMockChatServer({ script: [{ fault: { kind: 'drop', afterChunks: 6, atByte: 'midCharacter' } }, {}] });
    try {
      return await runChat(config, { baseURL: `${server.url}/v1` }, io);
    } finally {
      await server.close();
    }
  }
  const apiKey = process.env[config.apiKeyEnv];
  if (!apiKey) {
    process.stderr.write(`error: no API key: set ${config.apiKeyEnv}${config.apiKeyEnv === 'OPENAI_API_KEY' ? ' (or name another variable with --api-key-env)' : ''}, or try --mock.\n`);
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
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = EXIT.failed;
  },
);
