/** A schema or tool name the providers accept: 1 to 64 of `a-z A-Z 0-9 _ -`. Else a `TypeError` before any request. */
export function assertSchemaName(caller: string, name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    throw new TypeError(`${caller}: name must be 1 to 64 letters, digits, _ or - (the providers' rule), got ${JSON.stringify(String(name).slice(0, 80))}.`);
  }
  return name;
}
