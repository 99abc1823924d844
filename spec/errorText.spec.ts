import { of, lastValueFrom, toArray } from 'rxjs';
import { SchemaValidationError } from '../src/errors';
import { parseRelayedChunks, RelayedError } from '../src/operators/parseRelayedChunks';

const ESC = '\x1b';

describe('server and model strings that reach an error are cleaned', () => {
  it('SchemaValidationError: model-chosen keys lose terminal escapes and controls, the message is capped, value is not enumerable', () => {
    const hostileKey = `${ESC}]0;owned${'\x07'}${ESC}[31mred\r\nforged line${'k'.repeat(100_000)}`;
    const value = { payload: 'x'.repeat(1_000_000) };
    const error = new SchemaValidationError([{ message: `bad ${ESC}[2J`, path: [hostileKey, 0] }], value);
    expect(error.message).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(error.message).not.toContain('\n');
    expect(error.message).not.toContain('owned');
    expect(error.message.length).toBeLessThan(2_000);
    expect(error.value).toBe(value);
    expect(Object.keys(error)).not.toContain('value');
    // A 1 MB answer does not travel with the error into JSON or a logger's field walk.
    const small = new SchemaValidationError([{ message: 'Required', path: ['name'] }], value);
    expect(JSON.stringify(small).length).toBeLessThan(5_000);
    expect(small.value).toBe(value);
  });

  it('RelayedError: the relayed name is stripped of controls and escapes like the message', async () => {
    const data = JSON.stringify({ name: `Http${ESC}[31mError\r\nFAKE: line`, message: 'boom', retryable: true });
    const error = await lastValueFrom(of({ data, event: 'error' }).pipe(parseRelayedChunks(), toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RelayedError);
    const relayed = error as RelayedError;
    expect(relayed.upstreamName).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
    expect(relayed.message).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
    expect(relayed.upstreamName).toBe('HttpError FAKE: line');
  });
});
