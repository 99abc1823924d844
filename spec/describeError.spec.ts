import { describeError } from '../src/cli/describeError.js';
import { HttpError, IdleTimeoutError, NetworkError } from '../src/errors.js';

describe('describeError', () => {
  it('keeps an HttpError message as it is: it starts with the status', () => {
    expect(describeError(new HttpError(401, 'HTTP 401 Unauthorized: Incorrect API key provided.'))).toBe(
      'HTTP 401 Unauthorized: Incorrect API key provided.',
    );
  });

  it('puts the name before other errors and drops the source prefix', () => {
    expect(describeError(new NetworkError('fromChatCompletion: the connection was reset'))).toBe('NetworkError: the connection was reset');
    expect(describeError(new IdleTimeoutError(150))).toMatch(/^IdleTimeoutError: No data arrived for 150 ms/);
  });

  it('makes one line of a message with line breaks', () => {
    expect(describeError(new TypeError('first line\n  second line'))).toBe('TypeError: first line second line');
    expect(describeError('plain\nstring')).toBe('plain string');
  });
});
