import * as z from 'zod/mini';

/**
 * The structured answer the trip form asks for. The same schema gives the
 * model its JSON Schema (`z.toJSONSchema`) and validates the finished answer
 * (zod is a Standard Schema, which `parseJsonAsItStreams` accepts). `zod/mini`
 * is zod's tree-shakable form, for bundles: the same schemas, with checks
 * passed to `.check()` instead of chained.
 */
export const Trip = z.object({
  destination: z.string(),
  country: z.string(),
  days: z.number().check(z.int(), z.positive()),
  season: z.string(),
  highlight: z.string(),
});
export type Trip = z.infer<typeof Trip>;

/** The form's fields, in the order the model writes them. */
export const TRIP_FIELDS: ReadonlyArray<{ key: keyof Trip; label: string }> = [
  { key: 'destination', label: 'Destination' },
  { key: 'country', label: 'Country' },
  { key: 'days', label: 'Days' },
  { key: 'season', label: 'Best season' },
  { key: 'highlight', label: 'Highlight' },
];
