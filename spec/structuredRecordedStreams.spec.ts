/**
 * The structured-output pipeline (`accumulateContent` + `parseJsonAsItStreams`
 * with a schema) on real provider streams: the recordings in the shared
 * `recorded-streams` folder next to the repository (see its README and
 * check.mjs; not copied here), replayed byte for byte from a loopback server.
 * For every recording with tool calls, the answer read with `answerFrom: {
 * toolName }` validates into `value`, and every call's `parsedArguments`, equal
 * `JSON.parse` of the arguments that the folder's own reference fold
 * (`*.expected.json`, no code shared with the library) computed. The
 * Chat Completions recordings of OpenAI structured outputs (`response_format`)
 * give the content's JSON as `value`, and the one cut by `max_tokens` ends in
 * a `SchemaValidationError`. Set RECORDED_STREAMS to read another folder.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { lastValueFrom, type Observable } from 'rxjs';
import { z } from 'zod';
import {
  accumulateContent,
  fromAnthropicMessages,
  fromChatCompletion,
  fromGeminiContent,
  fromResponses,
  parseJsonAsItStreams,
  untilDone,
  type ChatCompletionEvent,
} from '../src/index.js';

const FOLDER = process.env['RECORDED_STREAMS'] ?? join(__dirname, '..', '..', 'shared', 'recorded-streams');
const present = existsSync(FOLDER);
if (!present) console.warn(`structuredRecordedStreams.spec.ts skipped: no recorded-streams folder at ${FOLDER} (set RECORDED_STREAMS)`);

interface Expected {
  content: string;
  finishReason: string | null;
  toolCalls: Array<{ name: string; arguments: string }>;
}
interface Recording {
  name: string;
  provider: string;
  body: Buffer;
  expected: Expected;
}

function recordings(): Recording[] {
  if (!present) return [];
  const found: Recording[] = [];
  for (const provider of readdirSync(FOLDER, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort()) {
    for (const file of readdirSync(join(FOLDER, provider)).filter((name) => name.endsWith('.sse')).sort()) {
      const name = file.slice(0, -'.sse'.length);
      const expected = JSON.parse(readFileSync(join(FOLDER, provider, `${name}.expected.json`), 'utf8')) as Expected;
      found.push({ name: `${provider}/${name}`, provider, body: readFileSync(join(FOLDER, provider, file)), expected });
    }
  }
  return found;
}

const all = recordings();
const withToolCalls = all.filter(({ expected }) => (expected.toolCalls ?? []).length > 0);
const structuredContent = all.filter(({ provider, expected }) => provider === 'openai' && expected.content.startsWith('{'));

/** Any JSON object: what a tool's arguments and a structured answer are. */
const JsonObject = z.record(z.string(), z.unknown());

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
  server = undefined;
});

/** Serves `body` as an event stream on 127.0.0.1 to every request; the source for the recording's wire format. */
async function replay({ provider, body }: Recording): Promise<Observable<ChatCompletionEvent>> {
  server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      response.end(body);
    });
  });
  await new Promise<void>((listening) => server!.listen(0, '127.0.0.1', listening));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const messages = [{ role: 'user' as const, content: 'replay' }];
  if (provider === 'anthropic') return fromAnthropicMessages({ baseURL: `${url}/v1`, apiKey: 'k', body: { model: 'm', max_tokens: 64, messages } });
  if (provider === 'gemini') return fromGeminiContent({ baseURL: `${url}/v1beta`, apiKey: 'k', model: 'm', body: { contents: [{ role: 'user', parts: [{ text: 'replay' }] }] } });
  if (provider === 'openai-responses') return fromResponses({ baseURL: `${url}/v1`, apiKey: 'k', body: { model: 'm', input: 'replay' } });
  return fromChatCompletion({ baseURL: `${url}/v1`, apiKey: 'k', body: { model: 'm', messages } });
}

(present ? describe : describe.skip)('the structured-output pipeline on the recorded streams', () => {
  it('finds recordings of both shapes (tool calls, structured content)', () => {
    expect(withToolCalls.length).toBeGreaterThanOrEqual(10);
    expect(structuredContent.map(({ name }) => name)).toEqual(expect.arrayContaining(['openai/gpt-4o-n3-choices', 'openai/gpt-4o-max-tokens']));
  });

  it.each(withToolCalls.map((recording) => [recording.name, recording] as const))(
    '%s: the tool call read with answerFrom validates into value; every call has its parsedArguments',
    async (_name, recording) => {
      const calls = recording.expected.toolCalls;
      const toolName = calls[0]!.name;
      const last = await lastValueFrom((await replay(recording)).pipe(untilDone(), accumulateContent(), parseJsonAsItStreams({ schema: JsonObject, answerFrom: { toolName } })));
      expect(last.value).toEqual(JSON.parse(calls[0]!.arguments));
      expect(last.toolCalls.map(({ function: { name }, parsedArguments }) => ({ name, parsedArguments }))).toEqual(calls.map(({ name, arguments: text }) => ({ name, parsedArguments: JSON.parse(text) })));
      expect(last.finishReason).toBe(recording.expected.finishReason);
    },
    60_000,
  );

  it.each(structuredContent.map((recording) => [recording.name, recording] as const))(
    '%s: OpenAI structured content validates into value, or ends in SchemaValidationError when cut short',
    async (_name, recording) => {
      const pipeline = (await replay(recording)).pipe(untilDone(), accumulateContent(), parseJsonAsItStreams({ schema: JsonObject }));
      if (recording.expected.finishReason === 'length') {
        await expect(lastValueFrom(pipeline)).rejects.toMatchObject({ name: 'SchemaValidationError', value: undefined });
      } else {
        const last = await lastValueFrom(pipeline);
        expect(last.value).toEqual(JSON.parse(recording.expected.content));
        expect(last.partial).toEqual(JSON.parse(recording.expected.content));
      }
    },
    60_000,
  );
});
