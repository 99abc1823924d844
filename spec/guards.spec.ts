import { join } from 'node:path';
import {
  ApiError,
  HttpError,
  IdleTimeoutError,
  NetworkError,
  ParseError,
  StreamError,
  StreamInterruptedError,
  isApiError,
  isHttpError,
  isIdleTimeoutError,
  isNetworkError,
  isParseError,
  isStreamError,
  isStreamInterruptedError,
} from '../src';
import { ensureBuilt, ROOT } from './support/ensureBuilt';

/** One error of each class, built by the given copy of the package. */
const samples = (lib: typeof import('../src')) => ({
  HttpError: new lib.HttpError(401, 'HTTP 401 Unauthorized'),
  NetworkError: new lib.NetworkError('the connection broke'),
  IdleTimeoutError: new lib.IdleTimeoutError(800),
  StreamInterruptedError: new lib.StreamInterruptedError(),
  ApiError: new lib.ApiError('overloaded', { type: 'overloaded_error' }),
  ParseError: new lib.ParseError('not JSON', '{oops'),
});

const guards = {
  HttpError: isHttpError,
  NetworkError: isNetworkError,
  IdleTimeoutError: isIdleTimeoutError,
  StreamInterruptedError: isStreamInterruptedError,
  ApiError: isApiError,
  ParseError: isParseError,
};

describe('error type guards', () => {
  beforeAll(() => ensureBuilt(), 120_000);

  it('accept their own class and reject every other one', () => {
    const errors = samples(require('../src'));
    for (const [guardName, guard] of Object.entries(guards)) {
      const accepted = Object.entries(errors).filter(([, error]) => guard(error)).map(([name]) => name);
      expect({ guard: guardName, accepted }).toEqual({ guard: guardName, accepted: [guardName] });
    }
  });

  it('accept errors of the other module copy (the CommonJS build), where instanceof fails', () => {
    const cjs = require(join(ROOT, 'dist', 'cjs', 'index.js')) as typeof import('../src');
    const errors = samples(cjs);
    expect(errors.HttpError instanceof HttpError).toBe(false);
    expect(Object.entries(errors).filter(([name, error]) => guards[name as keyof typeof guards](error) && isStreamError(error)).map(([name]) => name)).toEqual(
      Object.keys(guards),
    );
  });

  it('isStreamError accepts every library error and the base class', () => {
    const all = [...Object.values(samples(require('../src'))), new StreamError('base', false)];
    expect(all.map(isStreamError)).toEqual(all.map(() => true));
  });

  it('reject look-alikes without a boolean retryable, and non-objects', () => {
    const named = Object.assign(new Error('x'), { name: 'HttpError' });
    const values: unknown[] = [named, { name: 'HttpError', retryable: 'yes' }, null, undefined, 'HttpError', 401, new TypeError('x')];
    expect(values.map((value) => [isHttpError(value), isStreamError(value)])).toEqual(values.map(() => [false, false]));
  });

  it('narrow the type, so the fields read without casts', () => {
    const error: unknown = new HttpError(429, 'slow down', 1000);
    const described = isHttpError(error) ? `${error.status} after ${error.retryAfterMs} ms, retryable ${error.retryable}` : 'other';
    expect(described).toBe('429 after 1000 ms, retryable true');
    const api: unknown = new ApiError('busy', { type: 'overloaded_error', code: 529 });
    expect(isApiError(api) ? [api.type, api.code] : []).toEqual(['overloaded_error', 529]);
    expect([new IdleTimeoutError(5), new NetworkError('n'), new ParseError('p', 'e'), new StreamInterruptedError()].map((e) => e.retryable)).toEqual([
      true,
      true,
      false,
      true,
    ]);
  });
});
