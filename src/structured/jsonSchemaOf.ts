import type { JsonSchemaObject, StandardJsonSchemaV1 } from './standardJsonSchema.js';

/**
 * The JSON Schema (draft 2020-12) of what a Standard JSON Schema validator
 * accepts as output, without `$schema`. A plain JSON Schema object is taken
 * as it is. Anything else is a `TypeError` that says which validators work.
 */
export function jsonSchemaOf(caller: string, schema: StandardJsonSchemaV1 | JsonSchemaObject): JsonSchemaObject {
  const standard = (schema as Partial<StandardJsonSchemaV1> | null)?.['~standard'];
  if (standard !== undefined) {
    const output = standard?.jsonSchema?.output;
    if (typeof output !== 'function') {
      throw new TypeError(
        `${caller}: this ${String(standard?.vendor ?? 'Standard Schema')} schema cannot describe itself as JSON Schema (no ~standard.jsonSchema): ` +
          'use zod 4.2+, ArkType 2.1.28+ or Valibot with @valibot/to-json-schema (toStandardJsonSchema), or pass a JSON Schema object.',
      );
    }
    const { $schema: _ignored, ...json } = output({ target: 'draft-2020-12' });
    return json;
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new TypeError(`${caller}: schema must be a Standard JSON Schema validator (zod 4.2+, ArkType, Valibot) or a JSON Schema object.`);
  }
  const { $schema: _ignored, ...json } = schema as JsonSchemaObject;
  return json;
}
