import { lastValueFrom, toArray, type Observable } from 'rxjs';
import { z } from 'zod';
import {
  accumulateContent,
  fromAnthropicMessages,
  fromChatCompletion,
  fromGeminiContent,
  parseJsonAsItStreams,
  retryWithBackoff,
  untilDone,
  type ChatCompletionEvent,
  type JsonSnapshot,
} from '../src/index.js';
import { startMockChatServer, type MockChatServer, type MockScenario } from '../src/testing/index.js';
import { isJsonPrefix } from './support/jsonPrefix';

const KEY = 'structured-secret-key-5';
const Forecast = z.object({ city: z.string(), days: z.array(z.object({ date: z.string(), high: z.number(), summary: z.string() })) });
const forecast = { city: 'Tromsø', days: [{ date: '2026-12-01', high: -3.5, summary: 'Snow, "heavy" ❄' }, { date: '2026-12-02', high: 1, summary: 'Clear' }] };
const answer = JSON.stringify(forecast);

/** Each provider's structured mode, pointed at the mock server, and where its answer comes. */
const providers: Record<string, { source: (url: string) => Observable<ChatCompletionEvent>; scenario: MockScenario; answerFrom?: { toolName: string } }> = {
  'OpenAI response_format': {
    source: (url) =>
      fromChatCompletion({
        baseURL: `${url}/v1`,
        apiKey: KEY,
        body: { model: 'mock-model', messages: [], response_format: { type: 'json_schema', json_schema: { name: 'forecast', schema: z.toJSONSchema(Forecast) } } },
      }),
    scenario: { text: answer, tokenSize: 3 },
  },
  'Anthropic forced tool': {
    source: (url) =>
      fromAnthropicMessages({
        baseURL: `${url}/v1`,
        apiKey: KEY,
        body: { model: 'mock-model', max_tokens: 500, messages: [], tools: [{ name: 'forecast', input_schema: z.toJSONSchema(Forecast) }], tool_choice: { type: 'tool', name: 'forecast' } },
      }),
    scenario: { text: '', toolCalls: [{ name: 'forecast', arguments: answer }], tokenSize: 3 },
    answerFrom: { toolName: 'forecast' },
  },
  'Gemini responseSchema': {
    source: (url) =>
      fromGeminiContent({
        baseURL: `${url}/v1beta`,
        apiKey: KEY,
        model: 'mock-model',
        body: { contents: [], generationConfig: { responseMimeType: 'application/json', responseSchema: { type: 'OBJECT' } } },
      }),
    scenario: { text: answer, tokenSize: 3 },
  },
};

describe.each(Object.keys(providers))('structured output end to end: %s', (name) => {
  const { source, scenario, answerFrom } = providers[name]!;
  let server: MockChatServer;
  afterEach(() => server.close());

  it('fills in fields before the answer ends, only growing, then emits the validated value', async () => {
    server = await startMockChatServer({ apiKey: KEY, scenario });
    const values: JsonSnapshot<z.infer<typeof Forecast>>[] = await lastValueFrom(
      source(server.url).pipe(untilDone(), accumulateContent(), parseJsonAsItStreams({ schema: Forecast, ...(answerFrom ? { answerFrom } : {}) }), toArray()),
    );
    const final = values.at(-1)!;
    expect(final.value).toEqual(forecast);
    const partials = values.slice(0, -1).map((value) => value.partial);
    // Fields appear before the end: the city while the days are still streaming.
    expect(partials.some((partial) => partial?.city === 'Tromsø' && (partial.days?.length ?? 0) < 2)).toBe(true);
    for (let i = 0; i + 1 < partials.length; i++) expect(isJsonPrefix(partials[i], partials[i + 1])).toBe(true);
  });

  it('asks again after a mismatch with retryOnMismatch, and ends with the valid answer', async () => {
    const wrong = JSON.stringify({ city: 'Tromsø', days: 'soon' });
    const bad: MockScenario = answerFrom ? { ...scenario, toolCalls: [{ name: 'forecast', arguments: wrong }] } : { ...scenario, text: wrong };
    server = await startMockChatServer({ apiKey: KEY, scenario, script: [bad, {}] });
    const final = await lastValueFrom(
      source(server.url).pipe(
        untilDone(),
        accumulateContent(),
        parseJsonAsItStreams({ schema: Forecast, retryOnMismatch: true, ...(answerFrom ? { answerFrom } : {}) }),
        retryWithBackoff({ initialDelay: 5, jitter: 'none' }),
      ),
    );
    expect(final.value).toEqual(forecast);
    expect(server.requests).toHaveLength(2);
  });
});
