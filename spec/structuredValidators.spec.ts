/**
 * Valibot and ArkType feed the same four calls as zod, through Standard JSON
 * Schema (`~standard.jsonSchema`), with no adapter of ours: OpenAI's strict
 * rules are applied to what each validator writes, and the answer streamed by
 * the mock server validates into `value` with the same schema object.
 */
import { lastValueFrom } from 'rxjs';
import { toStandardJsonSchema } from '@valibot/to-json-schema';
import { type } from 'arktype';
import * as v from 'valibot';
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
} from '../src/index.js';
import { startMockChatServer, type MockChatServer } from '../src/testing/index.js';

const valibotForecast = toStandardJsonSchema(
  v.object({ city: v.string(), note: v.nullable(v.string()), days: v.array(v.object({ date: v.string(), high: v.number() })) }),
);
const arktypeForecast = type({ city: 'string', note: 'string | null', days: type({ date: 'string', high: 'number' }).array() });

const forecast = { city: 'Tromsø', note: null, days: [{ date: '2026-12-01', high: -3.5 }] };
const answer = JSON.stringify(forecast);

/** OpenAI strict mode's schema for the forecast, written out by hand; `required` in the validator's own order. */
const strictForecast = (required: string[], daysRequired: string[]) => ({
  type: 'object',
  properties: {
    city: { type: 'string' },
    note: { anyOf: [{ type: 'string' }, { type: 'null' }] },
    days: {
      type: 'array',
      items: { type: 'object', properties: { date: { type: 'string' }, high: { type: 'number' } }, required: daysRequired, additionalProperties: false },
    },
  },
  required,
  additionalProperties: false,
});

/** The same schema as the validator writes it (no `additionalProperties`), `$schema` dropped: what Anthropic and Gemini get. */
const asWritten = (required: string[], daysRequired: string[]) => {
  const { additionalProperties: _root, ...root } = strictForecast(required, daysRequired);
  const { additionalProperties: _item, ...items } = root.properties.days.items;
  return { ...root, properties: { ...root.properties, days: { type: 'array', items } } };
};

const validators = {
  Valibot: { schema: valibotForecast, required: ['city', 'note', 'days'], daysRequired: ['date', 'high'], optional: toStandardJsonSchema(v.object({ city: v.string(), note: v.optional(v.string()) })) },
  ArkType: { schema: arktypeForecast, required: ['city', 'days', 'note'], daysRequired: ['date', 'high'], optional: type({ city: 'string', 'note?': 'string' }) },
};

describe.each(Object.entries(validators))('%s through Standard JSON Schema', (vendor, { schema, required, daysRequired, optional }) => {
  it('Chat Completions and Responses get the strict schema (additionalProperties: false on every object, $schema dropped)', () => {
    expect(schema['~standard'].vendor).toBe(vendor.toLowerCase());
    expect(chatCompletionResponseFormat(schema, { name: 'forecast' })).toEqual({
      type: 'json_schema',
      json_schema: { name: 'forecast', strict: true, schema: strictForecast(required, daysRequired) },
    });
    expect(responsesTextFormat(schema, { name: 'forecast' })).toEqual({ format: { type: 'json_schema', name: 'forecast', strict: true, schema: strictForecast(required, daysRequired) } });
  });

  it('Anthropic and Gemini get the schema as the validator wrote it', () => {
    expect(anthropicSchemaTool(schema, { name: 'forecast' })).toEqual({ tools: [{ name: 'forecast', input_schema: asWritten(required, daysRequired) }], tool_choice: { type: 'tool', name: 'forecast' } });
    expect(geminiResponseSchema(schema)).toEqual({ responseMimeType: 'application/json', responseJsonSchema: asWritten(required, daysRequired) });
  });

  it('OpenAI strict mode refuses an optional property with a SchemaConversionError naming it', () => {
    for (const build of [() => chatCompletionResponseFormat(optional, { name: 'x' }), () => responsesTextFormat(optional, { name: 'x' })]) {
      expect(build).toThrow(SchemaConversionError);
      expect(build).toThrow(/"note" is optional at the root; make it required and nullable/);
    }
  });

  describe('end to end against the mock server', () => {
    let server: MockChatServer | undefined;
    afterEach(() => server?.close());

    it('Chat Completions, Responses, Anthropic and Gemini: the answer validates into value with the same schema', async () => {
      const sources = [
        (url: string) => fromChatCompletion({ baseURL: `${url}/v1`, body: { model: 'm', messages: [{ role: 'user', content: 'Oslo?' }], response_format: chatCompletionResponseFormat(schema, { name: 'forecast' }) } }),
        (url: string) => fromResponses({ baseURL: `${url}/v1`, body: { model: 'm', input: 'Oslo?', text: responsesTextFormat(schema, { name: 'forecast' }) } }),
        (url: string) => fromGeminiContent({ baseURL: `${url}/v1beta`, model: 'm', body: { contents: [{ role: 'user', parts: [{ text: 'Oslo?' }] }], generationConfig: { ...geminiResponseSchema(schema) } } }),
      ];
      for (const source of sources) {
        server = await startMockChatServer({ scenario: { text: answer, tokenSize: 4 } });
        const last = await lastValueFrom(source(server.url).pipe(untilDone(), accumulateContent(), parseJsonAsItStreams({ schema })));
        expect(last.value).toEqual(forecast);
        expect(server.requests).toHaveLength(1);
        await server.close();
        server = undefined;
      }
      server = await startMockChatServer({ scenario: { text: '', toolCalls: [{ name: 'forecast', arguments: answer }], tokenSize: 4 } });
      const anthropic = fromAnthropicMessages({
        baseURL: `${server.url}/v1`,
        body: { model: 'm', max_tokens: 500, messages: [{ role: 'user', content: 'Oslo?' }], ...anthropicSchemaTool(schema, { name: 'forecast' }) },
      });
      const last = await lastValueFrom(anthropic.pipe(untilDone(), accumulateContent(), parseJsonAsItStreams({ schema, answerFrom: { toolName: 'forecast' } })));
      expect(last.value).toEqual(forecast);
      expect((server.requests[0]!.body as Record<string, unknown>)['tool_choice']).toEqual({ type: 'tool', name: 'forecast' });
    }, 120_000);

    it('a mismatching answer is a SchemaValidationError from the same schema', async () => {
      server = await startMockChatServer({ scenario: { text: JSON.stringify({ ...forecast, days: 'none' }), tokenSize: 4 } });
      const source = fromChatCompletion({ baseURL: `${server.url}/v1`, body: { model: 'm', messages: [{ role: 'user', content: 'Oslo?' }], response_format: chatCompletionResponseFormat(schema, { name: 'forecast' }) } });
      await expect(lastValueFrom(source.pipe(untilDone(), accumulateContent(), parseJsonAsItStreams({ schema })))).rejects.toMatchObject({ name: 'SchemaValidationError' });
    }, 60_000);
  });
});
