import { lastValueFrom, toArray, type OperatorFunction } from 'rxjs';
import {
  accumulateContent,
  fromResponses,
  retryWithBackoff,
  untilDone,
  type ChatCompletionEvent,
  type ChatCompletionSnapshot,
} from '../src/index.js';
import { startMockChatServer, type MockChatServer, type MockScenario } from '../src/testing/index.js';
import { tokenize } from '../src/testing/scenario.js';

/**
 * The whole pipeline through a resumed Responses API stream, in both pipe
 * orders. `accumulateContent` must continue the snapshot on a chunk marked
 * `resumed: true` (and find where it was by the mark's `stream` token when it
 * was itself resubscribed, i.e. placed before `retryWithBackoff`).
 */
const TEXT = 'One answer, resumed in place: café, 中文, 🚀, and never shown twice.';
const TOKEN_SIZE = 3;
const scenario: MockScenario = { text: TEXT, tokenSize: TOKEN_SIZE, toolCalls: [{ name: 'lookup', arguments: '{"q":"Zürich"}' }] };
const ONE_GENERATION = tokenize(TEXT, TOKEN_SIZE).length + tokenize('{"q":"Zürich"}', TOKEN_SIZE).length;
const retry = <T>() => retryWithBackoff<T>({ initialDelay: 0, jitter: 'none', maxRetries: 5 });

const ORDERS: [string, OperatorFunction<ChatCompletionEvent, ChatCompletionSnapshot>][] = [
  ['retryWithBackoff before accumulateContent', (source) => source.pipe(untilDone(), retry(), accumulateContent())],
  ['accumulateContent before retryWithBackoff', (source) => source.pipe(untilDone(), accumulateContent(), retry())],
];

describe.each(ORDERS)('a resumed Responses stream, %s', (_order, pipeline) => {
  let server: MockChatServer;
  afterEach(() => server?.close());

  it('ends with the exact answer, never shows text twice or jumps back, and generates it once', async () => {
    server = await startMockChatServer({ scenario, script: [{ fault: { kind: 'drop', afterChunks: 14, atByte: 9 } }, {}] });
    const source = fromResponses({ baseURL: `${server.url}/v1`, body: { model: 'm', input: 'x', background: true, store: true } });
    const snapshots = await lastValueFrom(pipeline(source).pipe(toArray()));
    const last = snapshots.at(-1)!;
    expect(last.content).toBe(TEXT);
    expect(last.toolCalls.map((call) => [call.id, call.function.name, call.function.arguments])).toEqual([['call_mock_1', 'lookup', '{"q":"Zürich"}']]);
    expect(last.finishReason).toBe('tool_calls');
    for (let i = 1; i < snapshots.length; i++) expect(snapshots[i]!.content.startsWith(snapshots[i - 1]!.content)).toBe(true);
    expect(server.requests.map((request) => request.method)).toEqual(['POST', 'GET']);
    expect(server.generatedTokens).toBe(ONE_GENERATION);
  });

  it('starts over after a restart (the resume answered 404), ending with the exact answer', async () => {
    server = await startMockChatServer({ scenario });
    const source = fromResponses({ baseURL: `${server.url}/v1`, body: { model: 'm', input: 'x', background: true, store: true }, resumeFrom: { id: 'resp_gone', after: 4 } });
    const last = await lastValueFrom(pipeline(source));
    expect(last.content).toBe(TEXT);
    expect(server.requests.map((request) => request.method)).toEqual(['GET', 'POST']);
  });
});
