import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastValueFrom } from 'rxjs';
import { accumulateContent, fromChatCompletion, untilDone } from '../src/index.js';
import { expectedOutput, startMockChatServer, type MockChatServer } from '../src/testing/index.js';

/** `expectedOutput` of the testing helpers and the library fold the same chunks the same way: one fold, used by both. */
const mistral = readFileSync(join(__dirname, 'fixtures', 'mistral-thinking-array.sse'), 'utf8')
  .split('\n')
  .filter((line) => line.startsWith('data: ') && line !== 'data: [DONE]')
  .map((line) => JSON.parse(line.slice(6)) as object);

describe('expectedOutput folds like the library', () => {
  let server: MockChatServer;
  afterEach(() => server?.close());

  it('Mistral content parts: text, not "[object Object]"; thinking parts as reasoning', () => {
    const expected = expectedOutput({ chunks: mistral });
    expect(expected.content[0]).toBe('Water finds its way —\nstones remember nothing,\nthe sea keeps it all.');
    expect(expected.reasoning).toBe('Hmm, the user wants a haiku about rivers. Five, seven, five.');
    expect(expected.finishReason).toBe('stop');
  });

  it('agrees with accumulateContent over the mock server, for the same chunks', async () => {
    server = await startMockChatServer({ scenario: { chunks: mistral } });
    const snapshot = await lastValueFrom(fromChatCompletion({ baseURL: `${server.url}/v1`, body: { model: 'm', messages: [] } }).pipe(untilDone(), accumulateContent()));
    const expected = expectedOutput({ chunks: mistral });
    expect(expected.content).toEqual(snapshot.choices.map((choice) => choice.content));
    expect(expected.reasoning).toBe(snapshot.reasoning);
    expect(expected.finishReason).toBe(snapshot.finishReason ?? '');
    expect(expected.toolCalls).toEqual(snapshot.toolCalls.map((call) => ({ id: call.id ?? '', name: call.function.name, arguments: call.function.arguments })));
  });
});
