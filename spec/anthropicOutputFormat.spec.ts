import { lastValueFrom } from 'rxjs';
import { z } from 'zod';
import { accumulateContent, anthropicOutputFormat, fromAnthropicMessages, parseJsonAsItStreams, SchemaConversionError, untilDone } from '../src/index.js';
import { startMockChatServer, type MockChatServer } from '../src/testing/index.js';

const Forecast = z.object({ city: z.string(), note: z.string().optional(), days: z.array(z.object({ date: z.string(), high: z.number() })) });
const forecast = { city: 'Tromsø', days: [{ date: '2026-12-01', high: -3.5 }] };

describe('anthropicOutputFormat: Anthropic JSON outputs (output_config.format) from one schema', () => {
  it('closes every object with additionalProperties: false, keeps optional properties, drops $schema', () => {
    expect(anthropicOutputFormat(Forecast)).toEqual({
      output_config: {
        format: {
          type: 'json_schema',
          schema: {
            type: 'object',
            properties: {
              city: { type: 'string' },
              note: { type: 'string' },
              days: { type: 'array', items: { type: 'object', properties: { date: { type: 'string' }, high: { type: 'number' } }, required: ['date', 'high'], additionalProperties: false } },
            },
            required: ['city', 'days'],
            additionalProperties: false,
          },
        },
      },
    });
  });

  it.each([
    ['a record', z.object({ temps: z.record(z.string(), z.number()) }), /temps allows extra properties/, ['properties', 'temps', 'additionalProperties']],
    ['a root that is not an object', z.array(z.string()), /object schema at the root/, []],
  ])('refuses %s with a SchemaConversionError saying where', (_what, schema, message, path) => {
    let caught: unknown;
    try {
      anthropicOutputFormat(schema);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SchemaConversionError);
    expect((caught as Error).message).toMatch(message);
    expect((caught as SchemaConversionError).path).toEqual(path);
  });

  describe('against the mock server', () => {
    let server: MockChatServer | undefined;
    afterEach(() => server?.close());

    it('the request carries output_config.format, and the text answer validates into value with the same schema', async () => {
      server = await startMockChatServer({ scenario: { text: JSON.stringify(forecast), tokenSize: 4 } });
      const source = fromAnthropicMessages({ baseURL: `${server.url}/v1`, body: { model: 'm', max_tokens: 500, messages: [{ role: 'user', content: 'Oslo?' }], ...anthropicOutputFormat(Forecast) } });
      const last = await lastValueFrom(source.pipe(untilDone(), accumulateContent(), parseJsonAsItStreams({ schema: Forecast })));
      expect(last.value).toEqual(forecast);
      expect(server.requests).toHaveLength(1);
      const body = server.requests[0]!.body as Record<string, unknown>;
      expect(body['output_config']).toEqual(anthropicOutputFormat(Forecast).output_config);
      expect(body['tools']).toBeUndefined();
    }, 60_000);
  });
});
