import { describeError } from '../src/cli/describeError.js';
import { ApiError, HttpError, IdleTimeoutError, NetworkError } from '../src/errors.js';

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

  it('strips the escape sequences and control characters a server may put into a message, and into a name', () => {
    const hostile = new ApiError('fromChatCompletion: bad\x1b[2J\x1b]52;c;ZXZpbA==\x07 input\r\x1b]8;;https://evil.test\x1b\\link\u009b1m');
    expect(describeError(hostile)).toBe('ApiError: bad input link');
    const renamed = Object.assign(new Error('x'), { name: 'Evil\x1b]0;title\x07Error' });
    expect(describeError(renamed)).toBe('EvilError: x');
    expect(describeError('plain\x1b[31m red')).toBe('plain red');
  });
});
