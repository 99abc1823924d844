import type { ChatResponseFormat } from '../requests/chatCompletionRequest.js';
import { jsonSchemaOf } from './jsonSchemaOf.js';
import { openAIStrictSchema } from './openAIStrictSchema.js';
import { assertSchemaName } from './schemaName.js';
import type { JsonSchemaObject, StandardJsonSchemaV1 } from './standardJsonSchema.js';

/** Options of the structured-output request builders. */
export interface StructuredOutputOptions {
  /** The schema's (or tool's) name: 1 to 64 of `a-z A-Z 0-9 _ -`. */
  name: string;
  /** What the answer is, for the model. */
  description?: string | undefined;
  /**
   * OpenAI only. `true` (default): strict mode, the schema converted to its
   * rules or refused with a `SchemaConversionError`; `false`: sent as it is.
   */
  strict?: boolean | undefined;
}

const CALLER = 'chatCompletionResponseFormat';

/**
 * The `response_format` of a Chat Completions request, from the same schema
 * you give `parseJsonAsItStreams`: a Standard JSON Schema validator (zod
 * 4.2+, ArkType, Valibot) or a JSON Schema object. With `strict` (default),
 * OpenAI's strict-mode rules are applied: `additionalProperties: false` is
 * added to every object; an optional property, a record, `allOf`/`not`/`if`
 * or a non-object root are refused with a `SchemaConversionError` that says
 * where and what to change. Nothing is sent: it only builds the body's part.
 *
 * ```text
 * z.object({ city: z.string() })  ->  { type: 'json_schema', json_schema: { name, strict: true,
 *                                       schema: { type: 'object', properties: { city: { type: 'string' } },
 *                                                 required: ['city'], additionalProperties: false } } }
 * ```
 *
 * @example
 * ```ts
 * const Forecast = z.object({ city: z.string(), high: z.number() });
 * fromChatCompletion({ apiKey, body: { model: 'gpt-4.1-mini', messages, response_format: chatCompletionResponseFormat(Forecast, { name: 'forecast' }) } })
 *   .pipe(untilDone(), accumulateContent(), parseJsonAsItStreams({ schema: Forecast }));
 * ```
 */
export function chatCompletionResponseFormat(schema: StandardJsonSchemaV1 | JsonSchemaObject, options: StructuredOutputOptions): ChatResponseFormat {
  const name = assertSchemaName(CALLER, options?.name);
  const strict = options.strict ?? true;
  const json = jsonSchemaOf(CALLER, schema);
  return {
    type: 'json_schema',
    json_schema: {
      name,
      ...(options.description === undefined ? {} : { description: options.description }),
      strict,
      schema: strict ? openAIStrictSchema(CALLER, json) : json,
    },
  };
}
