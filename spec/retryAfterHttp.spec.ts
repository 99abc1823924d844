import { lastValueFrom } from 'rxjs';
import { fromChatCompletion } from '../src/sources/fromChatCompletion.js';
import type { HttpError } from '../src/errors.js';
import { startLoopbackServer, type LoopbackServer } from './support/loopbackServer.js';

/** The HttpError a source fails with when the server answers 503 with these headers. */
async function errorFor(server: () => LoopbackServer): Promise<HttpError> {
  const source = fromChatCompletion({ baseURL: `${server().url}/v1`, apiKey: 'sk-test', body: { model: 'm', messages: [] } });
  try {
    await lastValueFrom(source);
  } catch (error) {
    return error as HttpError;
  }
  throw new Error('expected the stream to fail');
}

describe('Retry-After over real HTTP', () => {
  let server: LoopbackServer;
  afterEach(() => server.close());

  const answer = async (headers: Record<string, string>) => {
    server = await startLoopbackServer((_request, response) => {
      response.sendDate = false; // the test sets Date itself, or leaves it out
      response.writeHead(503, headers);
      response.end('overloaded');
    });
    return errorFor(() => server);
  };

  it("measures an HTTP-date against the response's Date header: a server clock a year behind still means 90 s", async () => {
    const serverNow = Date.now() - 365 * 24 * 3_600_000;
    const seconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toUTCString();
    const error = await answer({ date: seconds(serverNow), 'retry-after': seconds(serverNow + 90_000) });
    expect(error).toMatchObject({ name: 'HttpError', status: 503, retryAfterMs: 90_000 });
  });

  it.each([['-1'], ['Foo 2'], ['1.5'], ['tomorrow']])('ignores Retry-After %j: no retryAfterMs, not "retry now"', async (value) => {
    const error = await answer({ 'retry-after': value });
    expect(error).toMatchObject({ name: 'HttpError', status: 503, retryable: true });
    expect(error.retryAfterMs).toBeUndefined();
  });
});
