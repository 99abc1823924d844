/**
 * Blocks inference of a type parameter from an argument, so that a vendor
 * extension type is only ever what the caller wrote in the angle brackets
 * (TypeScript 5.4's `NoInfer`, written so that TypeScript 5.0 reads it too).
 */
export type NotInferred<T> = [T][T extends unknown ? 0 : never];

/**
 * A request body with vendor extensions: the provider's documented fields
 * plus `Extra`, the fields your server adds (vLLM's `top_k`, OpenRouter's
 * `provider`, ...). Name them in the source's type argument, and a typo in
 * any other field still fails to compile:
 *
 * @example
 * ```ts
 * fromChatCompletion<{ top_k?: number; repetition_penalty?: number }>({
 *   baseURL: 'http://127.0.0.1:8000/v1',
 *   body: { model: 'qwen', messages: [{ role: 'user', content: 'Hi' }], top_k: 40 },
 * });
 * ```
 */
export type WithExtensions<Body, Extra extends object> = Body & Omit<Extra, keyof Body>;
