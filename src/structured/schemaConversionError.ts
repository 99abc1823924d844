/**
 * A schema that a provider's structured-output mode cannot take, found before
 * any request: `path` says where (`['items', 'properties', 'tags']`), the
 * message what to change. Not retryable: the same schema fails again.
 *
 * @example
 * ```ts
 * try {
 *   chatCompletionResponseFormat(Forecast, { name: 'forecast' });
 * } catch (error) {
 *   if (error instanceof Error && error.name === 'SchemaConversionError') console.error(error.message); // "... city is optional ..."
 * }
 * ```
 */
export class SchemaConversionError extends TypeError {
  override readonly name = 'SchemaConversionError';
  readonly retryable = false;
  constructor(
    message: string,
    /** Where in the JSON Schema the problem is, as property names and keywords. */
    readonly path: readonly string[],
  ) {
    super(message);
  }
}
