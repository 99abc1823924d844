import { SchemaConversionError } from './schemaConversionError.js';
import type { JsonSchemaObject } from './standardJsonSchema.js';

/** Keywords OpenAI's strict mode does not take: refused, with where. */
const REFUSED = ['allOf', 'not', 'if', 'then', 'else', 'dependentRequired', 'dependentSchemas', 'patternProperties', 'unevaluatedProperties', 'propertyNames'];

/** Nesting OpenAI accepts (10 levels); past it, refused. */
const MAX_DEPTH = 10;

/**
 * A JSON Schema made to follow OpenAI's strict mode (Chat Completions
 * `response_format` and Responses `text.format` with `strict: true`):
 *
 * - converted: every object gets `additionalProperties: false` when it has
 *   none; `$schema` is dropped; the root stays an object;
 * - refused (`SchemaConversionError`, with the path): an optional property
 *   (strict mode requires every property: make it nullable instead, e.g.
 *   zod's `.nullable()`, so that the validator and the model agree); an object
 *   with open or typed extra properties (a record or map); `allOf`, `not`,
 *   `if`/`then`/`else`, `patternProperties` and the like; a root that is not
 *   an object; nesting deeper than 10.
 *
 * The input is not changed; a new schema is returned.
 */
export function openAIStrictSchema(caller: string, schema: JsonSchemaObject): JsonSchemaObject {
  if (schema['type'] !== 'object') {
    throw new SchemaConversionError(`${caller}: OpenAI's strict mode needs an object at the root (got ${JSON.stringify(schema['type'] ?? 'no type')}); wrap the value in an object.`, []);
  }
  return strict(caller, schema, [], 0) as JsonSchemaObject;
}

function strict(caller: string, node: unknown, path: string[], depth: number): unknown {
  if (Array.isArray(node)) return node.map((item, index) => strict(caller, item, [...path, String(index)], depth));
  if (typeof node !== 'object' || node === null) return node;
  const schema = node as JsonSchemaObject;
  const isObject = schema['type'] === 'object' || Object.hasOwn(schema, 'properties');
  const extra = schema['additionalProperties'];
  if (isObject && extra !== undefined && extra !== false) {
    throw new SchemaConversionError(
      `${caller}: OpenAI's strict mode needs objects with fixed properties, but ${where(path)} allows extra properties (a record or map); use an array of { key, value } objects instead.`,
      [...path, 'additionalProperties'],
    );
  }
  for (const keyword of REFUSED) {
    if (Object.hasOwn(schema, keyword)) {
      throw new SchemaConversionError(`${caller}: OpenAI's strict mode does not support \`${keyword}\` (at ${where(path)}).`, [...path, keyword]);
    }
  }
  if (isObject && depth >= MAX_DEPTH) {
    throw new SchemaConversionError(`${caller}: OpenAI's strict mode takes at most ${MAX_DEPTH} levels of nested objects (at ${where(path)}).`, path);
  }
  const result: JsonSchemaObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$schema') continue;
    const child = key === 'properties' || key === '$defs' || key === 'definitions' ? mapValues(caller, value, [...path, key], depth + (key === 'properties' ? 1 : 0)) : strict(caller, value, [...path, key], depth);
    result[key] = child;
  }
  if (isObject) {
    result['additionalProperties'] = false;
    const properties = Object.keys((schema['properties'] as JsonSchemaObject | undefined) ?? {});
    const required = new Set(Array.isArray(schema['required']) ? (schema['required'] as unknown[]) : []);
    const optional = properties.filter((name) => !required.has(name));
    if (optional.length > 0) {
      throw new SchemaConversionError(
        `${caller}: OpenAI's strict mode requires every property, but ${optional.map((name) => `"${name}"`).join(', ')} ${optional.length === 1 ? 'is' : 'are'} optional at ${where(path)}; ` +
          'make it required and nullable instead (zod: .nullable() rather than .optional()), so that the model and the validator agree.',
        [...path, 'properties', optional[0]!],
      );
    }
  }
  return result;
}

function mapValues(caller: string, value: unknown, path: string[], depth: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([name, child]) => [name, strict(caller, child, [...path, name], depth)]));
}

function where(path: readonly string[]): string {
  const names = path.filter((part, index) => path[index - 1] === 'properties' || part === 'items');
  return names.length === 0 ? 'the root' : names.join('.');
}
