/**
 * `items.map(project)` for the fold's hot path, where it runs once per chunk:
 * one item (one choice, one tool call: the common case) becomes an array
 * literal, which V8 builds several times faster than `new Array(n)` filled in
 * or `map`; more items are pushed onto a packed array.
 *
 * @example
 * ```ts
 * snapshotArray(state.choices, choiceSnapshot); // [choiceSnapshot(choices[0])]
 * ```
 */
export function snapshotArray<T, R>(items: readonly T[], project: (item: T) => R): R[] {
  if (items.length === 1) return [project(items[0]!)];
  const result: R[] = [];
  for (let i = 0; i < items.length; i++) result.push(project(items[i]!));
  return result;
}
