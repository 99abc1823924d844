import type { GeminiGenerationConfig } from '../requests/geminiRequest.js';
import { jsonSchemaOf } from './jsonSchemaOf.js';
import type { JsonSchemaObject, StandardJsonSchemaV1 } from './standardJsonSchema.js';

/**
 * Gemini's JSON output, from one schema: `responseMimeType:
 * 'application/json'` and `responseJsonSchema` (JSON Schema, which Gemini
 * takes as it is; the older `responseSchema` needs its OpenAPI subset), to
 * spread into `generationConfig`.
 *
 * ```text
 * Forecast  ->  { responseMimeType: 'application/json', responseJsonSchema: {...} }
 * ```
 *
 * @example
 * ```ts
 * fromGeminiContent({ apiKey, model: 'gemini-2.5-flash', body: { contents, generationConfig: { ...geminiResponseSchema(Forecast) } } })
 *   .pipe(untilDone(), accumulateContent(), parseJsonAsItStreams({ schema: Forecast }));
 * ```
 */
export function geminiResponseSchema(
  schema: StandardJsonSchemaV1 | JsonSchemaObject,
): Required<Pick<GeminiGenerationConfig, 'responseMimeType' | 'responseJsonSchema'>> {
  return { responseMimeType: 'application/json', responseJsonSchema: jsonSchemaOf('geminiResponseSchema', schema) };
}
