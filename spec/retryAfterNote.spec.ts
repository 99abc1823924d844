import { lastValueFrom, throwError } from 'rxjs';
import { accumulateContent, fromChatCompletion, HttpError, NetworkError, retryWithBackoff, untilDone } from '../src/index.js';
import { startMockChatServer, type MockChatServer } from '../src/testing/index.js';

const body = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };

describe('retryWithBackoff: a Retry-After longer than maxRetryAfter says why it was not retried', () => {
  let server: MockChatServer | undefined;
  afterEach(() => server?.close());

  it('a 429 with Retry-After: 120 fails at once, after one request, with the reason and the way out in the message', async () => {
    server = await startMockChatServer({ script: [{ fault: { kind: 'status', status: 429, retryAfter: 120 } }] });
    const error = await lastValueFrom(
      fromChatCompletion({ baseURL: `${server.url}/v1`, body }).pipe(untilDone(), accumulateContent(), retryWithBackoff({ initialDelay: 1 })),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    const http = error as HttpError;
    expect([http.status, http.retryable, http.retryAfterMs]).toEqual([429, true, 120_000]);
    expect(http.message).toMatch(/HTTP 429/);
    expect(http.message).toContain("Not retried: the server asked to wait 2 min (Retry-After), longer than retryWithBackoff's maxRetryAfter (60 s).");
    expect(http.message).toContain('Raise maxRetryAfter');
    expect(server.requests).toHaveLength(1);
  });

  it('a Retry-After within maxRetryAfter is waited and retried, and its error message is left alone', async () => {
    server = await startMockChatServer({ script: [{ fault: { kind: 'status', status: 429, retryAfter: 1 } }] });
    const error = await lastValueFrom(
      fromChatCompletion({ baseURL: `${server.url}/v1`, body }).pipe(untilDone(), retryWithBackoff({ initialDelay: 1, maxRetries: 1 })),
    ).catch((e: unknown) => e);
    expect((error as HttpError).status).toBe(429);
    expect((error as Error).message).not.toContain('Not retried');
    expect(server.requests).toHaveLength(2);
  });

  it('the note is added once, whatever the number of retryWithBackoff in a pipeline; other errors are untouched', async () => {
    const limited = new HttpError(503, 'HTTP 503: overloaded.', 3 * 3_600_000);
    const error = await lastValueFrom(throwError(() => limited).pipe(retryWithBackoff(), retryWithBackoff({ maxRetryAfter: 1_000 }))).catch((e: unknown) => e);
    expect(error).toBe(limited);
    expect(limited.message.match(/Not retried/g)).toHaveLength(1);
    expect(limited.message).toContain('wait 3 h');
    const refused = new HttpError(400, 'HTTP 400: bad request.', 999_999);
    await lastValueFrom(throwError(() => refused).pipe(retryWithBackoff())).catch(() => undefined);
    expect(refused.message).toBe('HTTP 400: bad request.');
    const network = new NetworkError('reset');
    await lastValueFrom(throwError(() => network).pipe(retryWithBackoff({ maxRetries: 0 }))).catch(() => undefined);
    expect(network.message).toBe('reset');
  });
});
