import { lastValueFrom } from 'rxjs';
import { accumulateContent } from '../src/operators/accumulateContent';
import { untilDone } from '../src/operators/untilDone';
import { fromAnthropicMessages } from '../src/sources/fromAnthropicMessages';
import { fromChatCompletion } from '../src/sources/fromChatCompletion';
import { fromGeminiContent } from '../src/sources/fromGeminiContent';
import { serveFixed, type LoopbackServer } from './support/loopbackServer';

/** JSON nested `depth` deep: `{"a":{"a":...1...}}`. */
function nested(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}
const DEEP = nested(6_000);

let server: LoopbackServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});
const fail = (promise: Promise<unknown>) => promise.then(() => new Error('completed'), (error: unknown) => error);

describe('JSON nested 6,000 deep from a server ends in a typed error, never a plain RangeError', () => {
  it('an in-stream error object without a message (OpenAI-compatible)', async () => {
    server = await serveFixed(`data: {"error":${DEEP}}\n\n`);
    const error = await fail(lastValueFrom(fromChatCompletion({ baseURL: server.url, body: {} }).pipe(untilDone(), accumulateContent())));
    expect(error).toMatchObject({ name: 'ApiError', retryable: false });
    expect((error as Error).message).toContain('nested too deeply');
  });

  it('an Anthropic tool_use whose whole input is nested that deep', async () => {
    server = await serveFixed(
      [
        'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":1,"output_tokens":0}}}\n\n',
        `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t1","name":"f","input":${DEEP}}}\n\n`,
        'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
      ].join(''),
    );
    const error = await fail(lastValueFrom(fromAnthropicMessages({ baseURL: server.url, apiKey: 'test-key-0123', body: { model: 'm', max_tokens: 1, messages: [] } }).pipe(untilDone(), accumulateContent())));
    expect(error).toMatchObject({ name: 'ParseError', retryable: false });
    expect((error as Error).message).toMatch(/^fromAnthropicMessages: a tool input is nested too deeply/);
  });

  it('a Gemini functionCall whose args are nested that deep', async () => {
    server = await serveFixed(`data: {"responseId":"r1","candidates":[{"index":0,"content":{"role":"model","parts":[{"functionCall":{"name":"f","args":${DEEP}}}]}}]}\n\n`);
    const error = await fail(lastValueFrom(fromGeminiContent({ baseURL: server.url, apiKey: 'test-key-0123', model: 'm', body: { contents: [] } }).pipe(untilDone(), accumulateContent())));
    expect(error).toMatchObject({ name: 'ParseError', retryable: false });
    expect((error as Error).message).toMatch(/^fromGeminiContent: a tool input is nested too deeply/);
  });
});
