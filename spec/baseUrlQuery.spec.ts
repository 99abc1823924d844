import { lastValueFrom } from 'rxjs';
import { fromAnthropicMessages, fromChatCompletion, fromGeminiContent, fromResponses } from '../src/index.js';
import { startLoopbackServer, type LoopbackServer } from './support/loopbackServer';

/**
 * A baseURL with a query (Azure's `?api-version=…`) or a fragment: the query
 * is kept, the path joined before it, the fragment never sent.
 */
describe('baseURL with a query or a fragment, in all four sources', () => {
  let loopback: LoopbackServer;
  beforeEach(async () => {
    loopback = await startLoopbackServer((_request, response) => void response.writeHead(204).end());
  });
  afterEach(() => loopback.close());
  const base = () => `${loopback.url}/openai/deployments/d1/?api-version=2024-10-21#notes`;
  const path = async (run: () => Promise<unknown>) => {
    await run().catch(() => undefined);
    return loopback.requests.at(-1)?.path;
  };

  it('fromChatCompletion', async () => {
    expect(await path(() => lastValueFrom(fromChatCompletion({ baseURL: base(), body: { model: 'm', messages: [] } }), { defaultValue: undefined }))).toBe(
      '/openai/deployments/d1/chat/completions?api-version=2024-10-21',
    );
  });

  it('fromAnthropicMessages', async () => {
    expect(await path(() => lastValueFrom(fromAnthropicMessages({ baseURL: base(), body: { model: 'c', max_tokens: 1, messages: [] } }), { defaultValue: undefined }))).toBe(
      '/openai/deployments/d1/messages?api-version=2024-10-21',
    );
  });

  it('fromGeminiContent', async () => {
    expect(await path(() => lastValueFrom(fromGeminiContent({ baseURL: base(), model: 'gemini-2.5-flash', body: { contents: [] } }), { defaultValue: undefined }))).toBe(
      '/openai/deployments/d1/models/gemini-2.5-flash:streamGenerateContent?api-version=2024-10-21&alt=sse',
    );
  });

  it('fromResponses, its resume and its cancel', async () => {
    expect(await path(() => lastValueFrom(fromResponses({ baseURL: base(), body: { model: 'm', input: 'x' } }), { defaultValue: undefined }))).toBe(
      '/openai/deployments/d1/responses?api-version=2024-10-21',
    );
    const resumed = fromResponses({ baseURL: base(), body: { model: 'm', input: 'x', background: true, store: true }, resumeFrom: { id: 'resp_1', after: 3 } });
    expect(await path(() => lastValueFrom(resumed, { defaultValue: undefined }))).toBe(
      '/openai/deployments/d1/responses/resp_1?api-version=2024-10-21&stream=true&starting_after=3',
    );
  });
});
