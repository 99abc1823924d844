/**
 * Standard JSON Schema v1 (https://standardschema.dev), declared here so that
 * no validator is a dependency: a schema that can describe itself as JSON
 * Schema under `~standard.jsonSchema` (zod 4.2+, ArkType, Valibot through
 * `@valibot/to-json-schema`). Types only.
 */
export interface StandardJsonSchemaV1 {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly jsonSchema: {
      readonly input: (options: { readonly target: string; readonly libraryOptions?: Record<string, unknown> }) => Record<string, unknown>;
      readonly output: (options: { readonly target: string; readonly libraryOptions?: Record<string, unknown> }) => Record<string, unknown>;
    };
  };
}

/** A JSON Schema object, as the providers take it. */
export type JsonSchemaObject = Record<string, unknown>;
