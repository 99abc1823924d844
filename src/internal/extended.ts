/**
 * A copy of `base` with `fields` added or replaced, keys in the order of
 * `{ ...base, ...fields }`. Not written as a spread because on Node 20's V8
 * a spread copy followed by a key that `base` lacks takes about 1 µs per such
 * key (against 0.1 µs for the whole copy); `parseJsonAsItStreams` does this
 * once per chunk.
 *
 * @example
 * ```ts
 * extended(snapshot, { partial }); // { id, model, content, ..., partial }
 * ```
 */
export function extended<B extends object, F extends object>(base: B, fields: F): Omit<B, keyof F> & F {
  return Object.assign({}, base, fields);
}
