import type { AnthropicMessagesRequest } from '../requests/anthropicRequest.js';
import type { StructuredOutputOptions } from './chatCompletionResponseFormat.js';
import { jsonSchemaOf } from './jsonSchemaOf.js';
import { assertSchemaName } from './schemaName.js';
import type { JsonSchemaObject, StandardJsonSchemaV1 } from './standardJsonSchema.js';

const CALLER = 'anthropicSchemaTool';

/**
 * Structured output on Anthropic's Messages API, from one schema: a tool
 * whose `input_schema` is the schema, and a `tool_choice` that forces it, to
 * spread into the body. The answer is that tool's input: read it with
 * `parseJsonAsItStreams({ schema, answerFrom: { toolName: name } })`. The
 * schema is sent as it is (Anthropic takes JSON Schema with optional
 * properties and records), its root must be an object.
 *
 * ```text
 * Forecast  ->  { tools: [{ name: 'forecast', input_schema: {...} }], tool_choice: { type: 'tool', name: 'forecast' } }
 * ```
 *
 * @example
 * ```ts
 * fromAnthropicMessages({ apiKey, body: { model: 'claude-sonnet-4-5', max_tokens: 1024, messages, ...anthropicSchemaTool(Forecast, { name: 'forecast' }) } })
 *   .pipe(untilDone(), accumulateContent(), parseJsonAsItStreams({ schema: Forecast, answerFrom: { toolName: 'forecast' } }));
 * ```
 */
export function anthropicSchemaTool(
  schema: StandardJsonSchemaV1 | JsonSchemaObject,
  options: Omit<StructuredOutputOptions, 'strict'>,
): Required<Pick<AnthropicMessagesRequest, 'tools' | 'tool_choice'>> {
  const name = assertSchemaName(CALLER, options?.name);
  const json = jsonSchemaOf(CALLER, schema);
  if (json['type'] !== 'object') {
    throw new TypeError(`${CALLER}: a tool's input_schema must be an object schema (got ${JSON.stringify(json['type'] ?? 'no type')}); wrap the value in an object.`);
  }
  return {
    tools: [{ name, ...(options.description === undefined ? {} : { description: options.description }), input_schema: json }],
    tool_choice: { type: 'tool', name },
  };
}
