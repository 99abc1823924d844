import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastValueFrom } from 'rxjs';
import { accumulateContent } from '../src/operators/accumulateContent.js';
import { untilDone } from '../src/operators/untilDone.js';
import { fromChatCompletion } from '../src/sources/fromChatCompletion.js';
import { serveFixed, type LoopbackServer } from './support/loopbackServer.js';

/**
 * Mistral's reasoning models send `delta.content` as an array of parts:
 * `{type: 'thinking', thinking: [{type: 'text', text}]}` while thinking, then
 * the answer as strings or `{type: 'text', text}` parts.
 */
describe('a Mistral reasoning stream with array-valued content', () => {
  let server: LoopbackServer;
  afterEach(async () => {
    await server?.close();
  });

  it('folds thinking parts into reasoning and text parts and strings into content', async () => {
    server = await serveFixed(readFileSync(join(__dirname, 'fixtures', 'mistral-thinking-array.sse'), 'utf8'));
    const snapshot = await lastValueFrom(
      fromChatCompletion({ baseURL: server.url, apiKey: 'mistral-key', body: { model: 'magistral-small-latest', messages: [] } }).pipe(untilDone(), accumulateContent()),
    );
    expect(snapshot).toMatchObject({
      id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
      reasoning: 'Hmm, the user wants a haiku about rivers. Five, seven, five.',
      content: 'Water finds its way —\nstones remember nothing,\nthe sea keeps it all.',
      finishReason: 'stop',
      usage: { prompt_tokens: 12, completion_tokens: 48, total_tokens: 60 },
    });
    expect(snapshot.content).not.toContain('[object Object]');
  });
});
