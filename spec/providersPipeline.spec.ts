import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastValueFrom, type Observable } from 'rxjs';
import {
  accumulateContent,
  fromAnthropicMessages,
  fromChatCompletion,
  fromGeminiContent,
  HttpError,
  retryWithBackoff,
  untilDone,
  type ChatCompletionEvent,
  type ChatCompletionSnapshot,
} from '../src/index.js';
import { expectedOutput, startMockChatServer, type MockChatServer, type MockScenario } from '../src/testing/index.js';
import { startLoopbackServer, type LoopbackServer } from './support/loopbackServer';

const KEY = 'provider-secret-key-77';
/**
 * Long enough that a loaded machine (a process descheduled for a few hundred
 * ms) never looks like a stalled server: only the scripted stall may time out.
 */
const IDLE_TIMEOUT = 1_000;

/** One source per wire format, pointed at the mock server. */
const providers: Record<string, (url: string) => Observable<ChatCompletionEvent>> = {
  openai: (url) => fromChatCompletion({ baseURL: `${url}/v1`, apiKey: KEY, body: { model: 'mock-model', messages: [{ role: 'user', content: 'hi' }] }, idleTimeout: IDLE_TIMEOUT }),
  anthropic: (url) =>
    fromAnthropicMessages({ baseURL: `${url}/v1`, apiKey: KEY, body: { model: 'mock-model', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }, idleTimeout: IDLE_TIMEOUT }),
  gemini: (url) => fromGeminiContent({ baseURL: `${url}/v1beta`, apiKey: KEY, model: 'mock-model', body: { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }, idleTimeout: IDLE_TIMEOUT }),
};

const scenario: MockScenario = {
  text: 'One pipeline for every provider: é, 中文, 🚀.',
  reasoning: 'Consider the formats.',
  toolCalls: [
    { name: 'get_weather', arguments: '{"city":"Oslo","unit":"c"}' },
    { name: 'get_time', arguments: '{"tz":"Europe/Oslo"}' },
  ],
  tokenSize: 3,
};

const orders = {
  'untilDone → accumulateContent → retryWithBackoff': (source: Observable<ChatCompletionEvent>) =>
    source.pipe(untilDone(), accumulateContent(), retryWithBackoff({ initialDelay: 5, maxRetries: 4 })),
  'untilDone → retryWithBackoff → accumulateContent': (source: Observable<ChatCompletionEvent>) =>
    source.pipe(untilDone(), retryWithBackoff({ initialDelay: 5, maxRetries: 4 }), accumulateContent()),
};

function expectExact(snapshot: ChatCompletionSnapshot): void {
  const expected = expectedOutput(scenario);
  expect(snapshot.content).toBe(expected.content[0]);
  expect(snapshot.reasoning).toBe(expected.reasoning);
  expect(snapshot.toolCalls.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments }))).toEqual(expected.toolCalls);
  expect(snapshot.finishReason).toBe(expected.finishReason);
  expect(snapshot.usage?.total_tokens).toBeGreaterThan(0);
}

describe.each(Object.keys(providers))('the same pipeline over the %s wire format', (format) => {
  const source = providers[format]!;
  let server: MockChatServer;
  afterEach(() => server.close());

  it.each(Object.keys(orders))('survives a drop mid-character, a 429 with Retry-After and a stall, exactly (%s)', async (order) => {
    server = await startMockChatServer({
      apiKey: KEY,
      scenario,
      script: [
        { fault: { kind: 'drop', afterChunks: 5, atByte: 'midCharacter' } },
        { fault: { kind: 'status', status: 429, retryAfterMs: 20 } },
        { fault: { kind: 'stall', afterChunks: 4 } },
        { dribble: 7 },
      ],
    });
    const snapshot = await lastValueFrom(orders[order as keyof typeof orders](source(server.url)));
    expectExact(snapshot);
    expect(server.requests).toHaveLength(4);
    expect(server.requests.every((request) => request.format === format)).toBe(true);
  });

  it('does not retry a 401, and reports the provider message', async () => {
    server = await startMockChatServer({ apiKey: 'another-key' });
    const error = await lastValueFrom(orders['untilDone → accumulateContent → retryWithBackoff'](source(server.url))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 401, retryable: false });
    expect((error as Error).message).toContain('Incorrect API key provided');
    expect(server.requests).toHaveLength(1);
  });

  it('retries an in-stream provider error and still ends exact', async () => {
    server = await startMockChatServer({ apiKey: KEY, scenario, script: [{ fault: { kind: 'error', afterChunks: 3 } }, {}] });
    const snapshot = await lastValueFrom(orders['untilDone → accumulateContent → retryWithBackoff'](source(server.url)));
    expectExact(snapshot);
    expect(server.requests).toHaveLength(2);
  });
});

describe.each([
  ['anthropic', 'anthropic-tool-no-args.sse', '"id":"toolu_01NoArgs"', (url: string) => providers.anthropic!(url), [['list_themes', '{}'], ['roll_die', '{"player":"p1","sides":6}'], ['get_time', '{"tz":"UTC"}']]],
  ['gemini', 'gemini-streamed-args.sse', '"stringValue":"San "', (url: string) => providers.gemini!(url), [['plan_trip', '{"city":"San Francisco","days":3,"stops":[{"name":"Pier 39","open":true},{"name":"Alcatraz","note":null}]}'], ['get_weather', '{"location":"Oslo"}'], ['read_theme', '{}']]],
] as const)('%s tool calls assembled at block end survive a drop inside a call', (_format, file, cutAfter, source, calls) => {
  let server: LoopbackServer;
  afterEach(() => server.close());

  it.each(Object.keys(orders))('and end exact (%s)', async (order) => {
    const text = readFileSync(join(__dirname, 'fixtures', file), 'utf8');
    server = await startLoopbackServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      // First answer: cut after the event holding `cutAfter`, inside the first call (opened, not yet ended).
      if (server.requests.length === 1) response.end(text.slice(0, text.indexOf('\n\n', text.indexOf(cutAfter)) + 2));
      else response.end(text);
    });
    const snapshot = await lastValueFrom(orders[order as keyof typeof orders](source(server.url)));
    expect(snapshot.toolCalls.map((call) => [call.function.name, call.function.arguments])).toEqual(calls);
    expect(server.requests).toHaveLength(2);
  });
});
