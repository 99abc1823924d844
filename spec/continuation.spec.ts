import { lastValueFrom, toArray, type Observable, type OperatorFunction } from 'rxjs';
import {
  accumulateContent,
  fromAnthropicMessages,
  fromChatCompletion,
  retryWithBackoff,
  untilDone,
  type ChatCompletionEvent,
  type ChatCompletionSnapshot,
} from '../src/index.js';
import { startMockChatServer, type MockChatServer, type MockScenario, type RecordedRequest } from '../src/testing/index.js';
import { tokenize } from '../src/testing/scenario.js';

/**
 * Resumption by continuation over real HTTP: after a drop, the next request
 * carries the received text as the final assistant message, and the mock
 * (scripted as a server that honours the prefix) streams only the rest.
 */
const TOKEN_SIZE = 3;
// The first 15 code points ("Cut right here ") end in a space: Anthropic gets them trimmed.
const TEXT = 'Cut right here and continued: café, 中文, 🚀, exactly once.';
const RECEIVED = Array.from(TEXT).slice(0, 15).join('');
const USER = { role: 'user', content: 'Tell me.' } as const;
const retry = <T>() => retryWithBackoff<T>({ initialDelay: 0, jitter: 'none', maxRetries: 3 });

const ORDERS: [string, OperatorFunction<ChatCompletionEvent, ChatCompletionSnapshot>][] = [
  ['retryWithBackoff before accumulateContent', (source) => source.pipe(untilDone(), retry(), accumulateContent())],
  ['accumulateContent before retryWithBackoff', (source) => source.pipe(untilDone(), accumulateContent(), retry())],
];

/** The final assistant message a request asked to continue, if any. */
function assistantTail(request: RecordedRequest): { content?: unknown } | undefined {
  const messages = (request.body as { messages: { role: string; content?: unknown }[] }).messages;
  const last = messages.at(-1);
  return last?.role === 'assistant' ? last : undefined;
}

/** First request: drop after `afterChunks` events; later ones: a server continuing the assistant prefix it was sent. */
function continuingServer(afterChunks: number, base: MockScenario = {}): (index: number, request: RecordedRequest) => MockScenario {
  return (index, request) => {
    if (index === 0) return { ...base, fault: { kind: 'drop', afterChunks } };
    const prefix = assistantTail(request)?.content;
    return typeof prefix === 'string' ? { ...base, text: TEXT.slice(prefix.length) } : base;
  };
}

async function snapshotsOf(source: Observable<ChatCompletionSnapshot>): Promise<ChatCompletionSnapshot[]> {
  const snapshots = await lastValueFrom(source.pipe(toArray()));
  for (let i = 1; i < snapshots.length; i++) expect(snapshots[i]!.content.startsWith(snapshots[i - 1]!.content)).toBe(true);
  return snapshots;
}

describe.each(ORDERS)('continuation, %s', (_order, pipeline) => {
  let server: MockChatServer;
  afterEach(() => server?.close());

  it.each(['vllm', 'deepseek'] as const)('fromChatCompletion %s: continues the partial answer, generating it once', async (continuation) => {
    // role chunk + 5 tokens of 3 code points = RECEIVED
    server = await startMockChatServer({ scenario: { text: TEXT, tokenSize: TOKEN_SIZE }, script: continuingServer(6) });
    const source = fromChatCompletion({ baseURL: `${server.url}/v1`, body: { model: 'm', messages: [USER] }, continuation });
    const snapshots = await snapshotsOf(pipeline(source));
    expect(snapshots.at(-1)!.content).toBe(TEXT);
    expect(snapshots.at(-1)!.finishReason).toBe('stop');
    expect(server.requests).toHaveLength(2);
    const [first, second] = server.requests.map((request) => request.body as Record<string, unknown>);
    expect(first).toEqual({ model: 'm', messages: [USER], stream: true });
    const flag = continuation === 'vllm' ? { continue_final_message: true, add_generation_prompt: false } : {};
    const tail = continuation === 'vllm' ? { role: 'assistant', content: RECEIVED } : { role: 'assistant', content: RECEIVED, prefix: true };
    expect(second).toEqual({ model: 'm', messages: [USER, tail], stream: true, ...flag });
    expect(server.generatedTokens).toBe(tokenize(TEXT, TOKEN_SIZE).length);
  });

  it('fromChatCompletion: restarts fresh when a tool call was under way', async () => {
    const base: MockScenario = { text: 'Let me look.', tokenSize: TOKEN_SIZE, toolCalls: [{ name: 'lookup', arguments: '{"q":"Zürich"}' }] };
    // role chunk + 4 text tokens + the tool call's first chunk + one fragment
    server = await startMockChatServer({ scenario: base, script: continuingServer(7, base) });
    const source = fromChatCompletion({ baseURL: `${server.url}/v1`, body: { model: 'm', messages: [USER] }, continuation: 'vllm' });
    const last = (await lastValueFrom(pipeline(source).pipe(toArray()))).at(-1)!;
    expect(last.content).toBe('Let me look.');
    expect(last.toolCalls.map((call) => [call.function.name, call.function.arguments])).toEqual([['lookup', '{"q":"Zürich"}']]);
    expect(server.requests.map((request) => request.body)).toEqual([
      { model: 'm', messages: [USER], stream: true },
      { model: 'm', messages: [USER], stream: true },
    ]);
  });

  it('fromAnthropicMessages prefill: sends the partial text trimmed and shows the seam whitespace once', async () => {
    // message_start, ping, content_block_start + 5 text tokens = RECEIVED
    server = await startMockChatServer({ scenario: { text: TEXT, tokenSize: TOKEN_SIZE }, script: continuingServer(8) });
    const body = { model: 'claude', max_tokens: 100, messages: [USER] };
    const source = fromAnthropicMessages({ baseURL: `${server.url}/v1`, body, continuation: 'prefill' });
    const snapshots = await snapshotsOf(pipeline(source));
    expect(snapshots.at(-1)!.content).toBe(TEXT);
    expect(server.requests.map((request) => request.body)).toEqual([
      { ...body, stream: true },
      { ...body, messages: [USER, { role: 'assistant', content: RECEIVED.trimEnd() }], stream: true },
    ]);
    expect(RECEIVED.trimEnd()).not.toBe(RECEIVED);
  });
});

describe('continuation state', () => {
  let server: MockChatServer;
  afterEach(() => server?.close());

  it('a completed answer is not continued by the next subscription', async () => {
    server = await startMockChatServer({ scenario: { text: TEXT, tokenSize: TOKEN_SIZE } });
    const source = fromChatCompletion({ baseURL: `${server.url}/v1`, body: { model: 'm', messages: [USER] }, continuation: 'deepseek' });
    for (let i = 0; i < 2; i++) expect((await lastValueFrom(source.pipe(untilDone(), accumulateContent()))).content).toBe(TEXT);
    expect(server.requests.map((request) => assistantTail(request))).toEqual([undefined, undefined]);
  });

  it('without the option a drop restarts the request as before', async () => {
    server = await startMockChatServer({ scenario: { text: TEXT, tokenSize: TOKEN_SIZE }, script: continuingServer(6) });
    const source = fromChatCompletion({ baseURL: `${server.url}/v1`, body: { model: 'm', messages: [USER] } });
    expect((await lastValueFrom(source.pipe(untilDone(), retry(), accumulateContent()))).content).toBe(TEXT);
    expect(server.requests.map((request) => assistantTail(request))).toEqual([undefined, undefined]);
  });
});

describe('continuation options are checked at creation', () => {
  const url = 'http://127.0.0.1:9/v1';
  it('rejects an unknown mode', () => {
    expect(() => fromChatCompletion({ baseURL: url, body: { messages: [USER] }, continuation: 'prefill' as never })).toThrow(TypeError);
    expect(() => fromAnthropicMessages({ baseURL: url, body: { model: 'c', max_tokens: 1, messages: [USER] }, continuation: 'vllm' as never })).toThrow(TypeError);
  });
  it('rejects prefill with extended thinking', () => {
    const body = { model: 'c', max_tokens: 2000, messages: [USER], thinking: { type: 'enabled', budget_tokens: 1024 } } as const;
    expect(() => fromAnthropicMessages({ baseURL: url, body, continuation: 'prefill' })).toThrow(/thinking/);
    expect(() => fromAnthropicMessages({ baseURL: url, body })).not.toThrow();
  });
  it('rejects a request without messages or already ending in an assistant message', () => {
    expect(() => fromChatCompletion({ baseURL: url, body: { model: 'm' }, continuation: 'vllm' })).toThrow(/messages/);
    const prefilled = { model: 'm', messages: [USER, { role: 'assistant', content: 'Sure' }] } as const;
    expect(() => fromChatCompletion({ baseURL: url, body: prefilled, continuation: 'deepseek' })).toThrow(/assistant/);
  });
});
