import type { ResponsesTextFormat } from '../requests/responsesRequest.js';
import type { StructuredOutputOptions } from './chatCompletionResponseFormat.js';
import { jsonSchemaOf } from './jsonSchemaOf.js';
import { openAIStrictSchema } from './openAIStrictSchema.js';
import { assertSchemaName } from './schemaName.js';
import type { JsonSchemaObject, StandardJsonSchemaV1 } from './standardJsonSchema.js';

const CALLER = 'responsesTextFormat';

/**
 * The `text` field of a Responses API request (`text.format`, type
 * `json_schema`), from one schema, with OpenAI's strict-mode rules applied as
 * in `chatCompletionResponseFormat`.
 *
 * ```text
 * Forecast  ->  { format: { type: 'json_schema', name: 'forecast', strict: true, schema: {...} } }
 * ```
 *
 * @example
 * ```ts
 * fromResponses({ apiKey, body: { model: 'gpt-5-mini', input: 'A forecast for Oslo.', text: responsesTextFormat(Forecast, { name: 'forecast' }) } })
 *   .pipe(untilDone(), accumulateContent(), parseJsonAsItStreams({ schema: Forecast }));
 * ```
 */
export function responsesTextFormat(schema: StandardJsonSchemaV1 | JsonSchemaObject, options: StructuredOutputOptions): { format: ResponsesTextFormat } {
  const name = assertSchemaName(CALLER, options?.name);
  const strict = options.strict ?? true;
  const json = jsonSchemaOf(CALLER, schema);
  return {
    format: {
      type: 'json_schema',
      name,
      ...(options.description === undefined ? {} : { description: options.description }),
      strict,
      schema: strict ? openAIStrictSchema(CALLER, json) : json,
    },
  };
}
