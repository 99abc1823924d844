import type { AnthropicMessagesRequest } from '../requests/anthropicRequest.js';
import { jsonSchemaOf } from './jsonSchemaOf.js';
import { SchemaConversionError } from './schemaConversionError.js';
import type { JsonSchemaObject, StandardJsonSchemaV1 } from './standardJsonSchema.js';

const CALLER = 'anthropicOutputFormat';

/**
 * Structured output on Anthropic's Messages API through its JSON outputs
 * (`output_config.format`, generally available on Claude 4.5 models and
 * later), from one schema, to spread into the body. The answer is the text of
 * the reply, so read it with `parseJsonAsItStreams({ schema })` (the default
 * `answerFrom: 'content'`). Anthropic needs `additionalProperties: false` on
 * every object: it is added where the schema has none, and an object that
 * allows extra properties (a record or map) is a `SchemaConversionError`.
 * Optional properties are kept. For older models use `anthropicSchemaTool`.
 *
 * ```text
 * Forecast  ->  { output_config: { format: { type: 'json_schema', schema: {...} } } }
 * ```
 *
 * @example
 * ```ts
 * fromAnthropicMessages({ apiKey, body: { model: 'claude-sonnet-4-5', max_tokens: 1024, messages, ...anthropicOutputFormat(Forecast) } })
 *   .pipe(untilDone(), accumulateContent(), parseJsonAsItStreams({ schema: Forecast }));
 * ```
 */
export function anthropicOutputFormat(schema: StandardJsonSchemaV1 | JsonSchemaObject): Required<Pick<AnthropicMessagesRequest, 'output_config'>> {
  const json = jsonSchemaOf(CALLER, schema);
  if (json['type'] !== 'object') {
    throw new SchemaConversionError(`${CALLER}: Anthropic's JSON outputs need an object schema at the root (got ${JSON.stringify(json['type'] ?? 'no type')}); wrap the value in an object.`, []);
  }
  return { output_config: { format: { type: 'json_schema', schema: closedObjects(json, []) as JsonSchemaObject } } };
}

/** The schema with `additionalProperties: false` on every object that has none; a record is refused. */
function closedObjects(node: unknown, path: string[]): unknown {
  if (Array.isArray(node)) return node.map((item, index) => closedObjects(item, [...path, String(index)]));
  if (typeof node !== 'object' || node === null) return node;
  const schema = node as JsonSchemaObject;
  const result: JsonSchemaObject = {};
  for (const [key, value] of Object.entries(schema)) {
    result[key] =
      key === 'properties' || key === '$defs' || key === 'definitions'
        ? typeof value === 'object' && value !== null
          ? Object.fromEntries(Object.entries(value).map(([name, child]) => [name, closedObjects(child, [...path, key, name])]))
          : value
        : closedObjects(value, [...path, key]);
  }
  if (schema['type'] === 'object' || Object.hasOwn(schema, 'properties')) {
    const extra = schema['additionalProperties'];
    if (extra !== undefined && extra !== false) {
      throw new SchemaConversionError(
        `${CALLER}: Anthropic's JSON outputs need objects with fixed properties, but ${path.length === 0 ? 'the root' : path.join('.')} allows extra properties (a record or map); use an array of { key, value } objects instead.`,
        [...path, 'additionalProperties'],
      );
    }
    result['additionalProperties'] = false;
  }
  return result;
}
