import { lastValueFrom } from 'rxjs';
import { z } from 'zod';
import {
  accumulateContent,
  anthropicSchemaTool,
  chatCompletionResponseFormat,
  fromAnthropicMessages,
  fromChatCompletion,
  fromGeminiContent,
  fromResponses,
  geminiResponseSchema,
  parseJsonAsItStreams,
  responsesTextFormat,
  SchemaConversionError,
  untilDone,
  type StandardJsonSchemaV1,
} from '../src/index.js';
import { startMockChatServer, type MockChatServer } from '../src/testing/index.js';

const Forecast = z.object({
  city: z.string(),
  note: z.string().nullable(),
  days: z.array(z.object({ date: z.string(), high: z.number(), sky: z.enum(['clear', 'snow']) })),
});
const forecast = { city: 'Tromsø', note: null, days: [{ date: '2026-12-01', high: -3.5, sky: 'snow' }] };
const answer = JSON.stringify(forecast);

/** What OpenAI's strict mode gets for Forecast: written out by hand from OpenAI's rules. */
const strictForecast = {
  type: 'object',
  properties: {
    city: { type: 'string' },
    note: { type: ['string', 'null'] },
    days: {
      type: 'array',
      items: {
        type: 'object',
        properties: { date: { type: 'string' }, high: { type: 'number' }, sky: { type: 'string', enum: ['clear', 'snow'] } },
        required: ['date', 'high', 'sky'],
        additionalProperties: false,
      },
    },
  },
  required: ['city', 'note', 'days'],
  additionalProperties: false,
};

describe('the schema written once: each provider family’s request part', () => {
  it('Chat Completions: response_format json_schema, strict, from a zod schema', () => {
    expect(chatCompletionResponseFormat(Forecast, { name: 'forecast', description: 'A forecast' })).toEqual({
      type: 'json_schema',
      json_schema: { name: 'forecast', description: 'A forecast', strict: true, schema: strictForecast },
    });
  });

  it('Responses: text.format json_schema, strict', () => {
    expect(responsesTextFormat(Forecast, { name: 'forecast' })).toEqual({ format: { type: 'json_schema', name: 'forecast', strict: true, schema: strictForecast } });
  });

  it('Anthropic: a forced tool whose input_schema is the schema; Gemini: responseJsonSchema', () => {
    const { $schema: _, ...json } = z.toJSONSchema(Forecast);
    expect(anthropicSchemaTool(Forecast, { name: 'forecast' })).toEqual({ tools: [{ name: 'forecast', input_schema: json }], tool_choice: { type: 'tool', name: 'forecast' } });
    expect(geminiResponseSchema(Forecast)).toEqual({ responseMimeType: 'application/json', responseJsonSchema: json });
  });

  it('takes any Standard JSON Schema without an adapter (here a hand-written one), and JSON Schema objects', () => {
    const calls: unknown[] = [];
    const custom: StandardJsonSchemaV1 = {
      '~standard': {
        version: 1,
        vendor: 'custom',
        jsonSchema: {
          input: () => ({}),
          output: (options) => (calls.push(options), { $schema: 'x', type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] }),
        },
      },
    };
    expect(chatCompletionResponseFormat(custom, { name: 'a' }).type).toBe('json_schema');
    expect(calls).toEqual([{ target: 'draft-2020-12' }]);
    // additionalProperties: false is added where the schema left it out.
    expect(responsesTextFormat({ type: 'object', properties: { o: { type: 'object', properties: {}, required: [] } }, required: ['o'] }, { name: 'x' }).format).toMatchObject({
      schema: { additionalProperties: false, properties: { o: { additionalProperties: false } } },
    });
  });

  it.each([
    ['an optional property (strict mode needs every one)', z.object({ city: z.string(), note: z.string().optional() }), /"note" is optional at the root; make it required and nullable/, ['properties', 'note']],
    ['a record', z.object({ temps: z.record(z.string(), z.number()) }), /temps allows extra properties/, ['properties', 'temps', 'additionalProperties']],
    ['allOf (a JSON Schema object)', { type: 'object', properties: { a: { allOf: [{ type: 'string' }] } }, required: ['a'] }, /does not support `allOf` \(at a\)/, ['properties', 'a', 'allOf']],
    ['a root that is not an object', z.array(z.string()), /needs an object at the root/, []],
  ])('OpenAI strict mode refuses %s with a typed SchemaConversionError saying where, before any request', (_what, schema, message, path) => {
    for (const build of [() => chatCompletionResponseFormat(schema, { name: 'x' }), () => responsesTextFormat(schema, { name: 'x' })]) {
      let caught: unknown;
      try {
        build();
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(SchemaConversionError);
      expect((caught as SchemaConversionError).name).toBe('SchemaConversionError');
      expect((caught as SchemaConversionError).retryable).toBe(false);
      expect((caught as Error).message).toMatch(message);
      expect((caught as SchemaConversionError).path).toEqual(path);
    }
    // strict: false sends the schema as it is.
    expect(chatCompletionResponseFormat(schema, { name: 'x', strict: false }).type).toBe('json_schema');
  });

  it('refuses a bad name, a validator without JSON Schema, and a non-object tool schema with a TypeError', () => {
    expect(() => chatCompletionResponseFormat(Forecast, { name: 'a forecast' })).toThrow(/name must be 1 to 64/);
    const plain = { '~standard': { version: 1, vendor: 'old', validate: () => ({ value: 1 }) } };
    expect(() => geminiResponseSchema(plain as never)).toThrow(/cannot describe itself as JSON Schema.*zod 4\.2\+/);
    expect(() => anthropicSchemaTool(z.string(), { name: 'x' })).toThrow(/must be an object schema/);
  });
});

describe('the schema written once, end to end against the mock server', () => {
  let server: MockChatServer | undefined;
  afterEach(() => server?.close());

  const cases = {
    'Chat Completions': {
      scenario: { text: answer, tokenSize: 4 },
      source: (url: string) => fromChatCompletion({ baseURL: `${url}/v1`, body: { model: 'm', messages: [{ role: 'user', content: 'Oslo?' }], response_format: chatCompletionResponseFormat(Forecast, { name: 'forecast' }) } }),
      sent: (body: Record<string, unknown>) => body['response_format'],
      expected: { type: 'json_schema', json_schema: { name: 'forecast', strict: true, schema: strictForecast } },
      answerFrom: undefined,
    },
    Responses: {
      scenario: { text: answer, tokenSize: 4 },
      source: (url: string) => fromResponses({ baseURL: `${url}/v1`, body: { model: 'm', input: 'Oslo?', text: responsesTextFormat(Forecast, { name: 'forecast' }) } }),
      sent: (body: Record<string, unknown>) => body['text'],
      expected: { format: { type: 'json_schema', name: 'forecast', strict: true, schema: strictForecast } },
      answerFrom: undefined,
    },
    Anthropic: {
      scenario: { text: '', toolCalls: [{ name: 'forecast', arguments: answer }], tokenSize: 4 },
      source: (url: string) =>
        fromAnthropicMessages({ baseURL: `${url}/v1`, body: { model: 'm', max_tokens: 500, messages: [{ role: 'user', content: 'Oslo?' }], ...anthropicSchemaTool(Forecast, { name: 'forecast' }) } }),
      sent: (body: Record<string, unknown>) => body['tool_choice'],
      expected: { type: 'tool', name: 'forecast' },
      answerFrom: { toolName: 'forecast' },
    },
    Gemini: {
      scenario: { text: answer, tokenSize: 4 },
      source: (url: string) =>
        fromGeminiContent({ baseURL: `${url}/v1beta`, model: 'm', body: { contents: [{ role: 'user', parts: [{ text: 'Oslo?' }] }], generationConfig: { ...geminiResponseSchema(Forecast) } } }),
      sent: (body: Record<string, unknown>) => (body['generationConfig'] as Record<string, unknown>)['responseMimeType'],
      expected: 'application/json',
      answerFrom: undefined,
    },
  };

  it.each(Object.entries(cases))('%s: the request carries the schema part, and the answer validates against the same schema', async (_name, { scenario, source, sent, expected, answerFrom }) => {
    server = await startMockChatServer({ scenario });
    const last = await lastValueFrom(source(server.url).pipe(untilDone(), accumulateContent(), parseJsonAsItStreams({ schema: Forecast, ...(answerFrom ? { answerFrom } : {}) })));
    expect(last.value).toEqual(forecast);
    expect(server.requests).toHaveLength(1);
    expect(sent(server.requests[0]!.body as Record<string, unknown>)).toEqual(expected);
  });
});
