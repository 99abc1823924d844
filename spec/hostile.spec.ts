import { lastValueFrom, timeout, toArray } from 'rxjs';
import {
  accumulateContent,
  ApiError,
  fromAnthropicMessages,
  fromChatCompletion,
  fromGeminiContent,
  HttpError,
  IdleTimeoutError,
  NetworkError,
  ParseError,
  StreamInterruptedError,
  untilDone,
} from '../src/index.js';
import { sleep } from './support/loopbackServer';
import { serveEachTest } from './support/serveEachTest';

const KEY = 'sk-hostile-secret-31337';
const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] } as const;
const SSE = { 'content-type': 'text/event-stream' };
const chunk = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

/** Every place a key could hide in an error. */
function everything(error: unknown): string {
  const seen = new Set<unknown>();
  const parts: string[] = [];
  for (let current = error; current && !seen.has(current); current = (current as { cause?: unknown }).cause) {
    seen.add(current);
    const e = current as Error;
    parts.push(String(e), e.message ?? '', e.stack ?? '', JSON.stringify(e) ?? '', JSON.stringify(Object.entries(e)));
  }
  return parts.join('\n');
}

describe('hostile input', () => {
  const serve = serveEachTest();

  it('a 10 MB line with no newline fails with ParseError at maxEventSize, aborts, and keeps memory bounded', async () => {
    const server = await serve(async (_request, response) => {
      response.writeHead(200, SSE);
      const block = 'x'.repeat(64 * 1024);
      response.write('data: ');
      for (let sent = 0; sent < 10 * 1024 * 1024 && !response.destroyed; sent += block.length) {
        if (!response.write(block)) await new Promise((resolve) => response.once('drain', resolve));
      }
      response.end();
    });
    const before = process.memoryUsage().heapUsed;
    const error = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body, maxEventSize: 1024 * 1024 }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParseError);
    expect((error as Error).message).toMatch(/maxEventSize/);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
    await server.requests[0]!.closed;
  });

  it('the default maxEventSize (4 Mi characters) also stops a 10 MB line', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, SSE);
      response.end(`data: ${'y'.repeat(10 * 1024 * 1024)}`);
    });
    const error = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParseError);
  });

  it('an endless stream of comments keeps the idle timer alive (by design), so an overall RxJS timeout bounds it and aborts the request', async () => {
    const server = await serve(async (_request, response) => {
      response.writeHead(200, SSE);
      const burst = ': keep-alive\n\n'.repeat(4096);
      while (!response.destroyed) {
        response.write(burst);
        await sleep(10);
      }
    });
    const before = process.memoryUsage().heapUsed;
    const started = Date.now();
    // The overall timeout is 2.5 idle timeouts: the comments keep the idle timer from firing for that
    // long. The idle timeout is 1 s, not less: under a starved CPU this process (server and client
    // alike) can stall for a few hundred milliseconds, and after a stall Node runs due timers before
    // reading the socket, so a short idle timeout would strike during the stall.
    const error = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body, idleTimeout: 1_000 }).pipe(timeout({ first: 2_500 }), toArray())).catch((e: unknown) => e);
    expect((error as Error).name).toBe('TimeoutError');
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_490);
    // Comments are dropped as they are parsed, not buffered (a few MB went by).
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
    await server.requests[0]!.closed;
  });

  it('an HTML error page served with 200 is a ParseError, not an empty answer', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<html><body>502 Bad Gateway</body></html>');
    });
    const error = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParseError);
  });

  it('a JSON answer served with 200 (an endpoint that ignores stream: true) is a ParseError; a JSON error object is an ApiError', async () => {
    const server = await serve((request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        request.headers['x-case'] === 'error'
          ? JSON.stringify({ error: { message: 'The server is overloaded.', type: 'server_error' } })
          : JSON.stringify({ id: 'c1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' } }] }),
      );
    });
    const plain = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(ParseError);
    expect((plain as ParseError).message).toMatch(/text\/event-stream/);
    const failed = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body, headers: { 'x-case': 'error' } }).pipe(toArray())).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ApiError);
    expect((failed as ApiError).retryable).toBe(true);
    expect((failed as ApiError).message).toContain('overloaded');
  });

  it('a body that ends right after the headers is an interrupted (retryable) stream', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, SSE);
      response.end();
    });
    const error = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body }).pipe(untilDone(), accumulateContent())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamInterruptedError);
    expect((error as StreamInterruptedError).retryable).toBe(true);
  });

  it('invalid UTF-8 becomes U+FFFD in the text; the valid text around it is kept', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, SSE);
      const head = Buffer.from('data: {"id":"c1","choices":[{"index":0,"delta":{"content":"ok ');
      const tail = Buffer.from(' end"},"finish_reason":null}]}\n\ndata: [DONE]\n\n');
      response.end(Buffer.concat([head, Buffer.from([0xff, 0xc3]), tail]));
    });
    const snapshot = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.content).toBe('ok \uFFFD\uFFFD end');
  });

  it('chunks of the wrong shape (no choices, delta null, choices null) are tolerated and add nothing', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, SSE);
      response.end(
        chunk({ content: 'A' }) +
          'data: {"id":"c1","object":"chat.completion.chunk"}\n\n' +
          'data: {"id":"c1","choices":[{"index":0,"delta":null,"finish_reason":null}]}\n\n' +
          'data: {"id":"c1","choices":null}\n\n' +
          chunk({ content: 'B' }, 'stop') +
          'data: [DONE]\n\n',
      );
    });
    const snapshot = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.content).toBe('AB');
    expect(snapshot.finishReason).toBe('stop');
  });

  it('a JSON array or number as a payload is a ParseError', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, SSE);
      response.end('data: [1,2,3]\n\n');
    });
    const error = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParseError);
  });

  it('calls a user-supplied fetch unbound, as browsers require ("Illegal invocation" otherwise)', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, SSE);
      response.end(chunk({ content: 'bound right' }, 'stop') + 'data: [DONE]\n\n');
    });
    function strictFetch(this: unknown, url: string, init: RequestInit): Promise<Response> {
      if (this !== undefined && this !== globalThis) return Promise.reject(new TypeError('Illegal invocation'));
      return globalThis.fetch(url, init);
    }
    const snapshot = await lastValueFrom(fromChatCompletion({ baseURL: server.url, body, fetch: strictFetch }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.content).toBe('bound right');
  });

  describe('redirects', () => {
    /** Server B records what arrives; server A redirects everything to B with `status`. */
    async function redirectPair(status: number, sameOrigin = false) {
      const target = await serve((_request, response) => {
        response.writeHead(200, SSE);
        response.end(chunk({ content: 'from B' }, 'stop') + 'data: [DONE]\n\n');
      });
      const front = await serve((request, response) => {
        if (sameOrigin && request.url === '/final/chat/completions') {
          response.writeHead(200, SSE);
          response.end(chunk({ content: 'same origin' }, 'stop') + 'data: [DONE]\n\n');
          return;
        }
        response.writeHead(status, { location: sameOrigin ? '/final/chat/completions' : `${target.url}/v1/chat/completions` });
        response.end();
      });
      return { front, target };
    }

    it.each([307, 308])('a %i to another origin does not forward Authorization', async (status) => {
      const { front, target } = await redirectPair(status);
      const snapshot = await lastValueFrom(fromChatCompletion({ baseURL: front.url, apiKey: KEY, body }).pipe(untilDone(), accumulateContent()));
      expect(snapshot.content).toBe('from B');
      expect(target.requests).toHaveLength(1);
      expect(target.requests[0]!.headers.authorization).toBeUndefined();
      expect(target.requests[0]!.method).toBe('POST');
      expect(JSON.parse(target.requests[0]!.body)).toMatchObject(body);
    });

    it('nor x-api-key (Anthropic), x-goog-api-key (Gemini) or api-key (Azure), which fetch alone would forward', async () => {
      const { front, target } = await redirectPair(307);
      await lastValueFrom(fromAnthropicMessages({ baseURL: front.url, apiKey: KEY, body: { model: 'm', max_tokens: 5, messages: [] } }).pipe(toArray())).catch(() => undefined);
      await lastValueFrom(fromGeminiContent({ baseURL: front.url, apiKey: KEY, model: 'm', body: { contents: [] } }).pipe(toArray())).catch(() => undefined);
      await lastValueFrom(fromChatCompletion({ baseURL: front.url, headers: { 'api-key': KEY }, body }).pipe(toArray()));
      expect(target.requests).toHaveLength(3);
      for (const request of target.requests) expect(JSON.stringify(request.headers)).not.toContain(KEY);
      expect(target.requests[0]!.headers['anthropic-version']).toBe('2023-06-01');
    });

    it('a same-origin redirect keeps the credentials', async () => {
      const { front } = await redirectPair(307, true);
      const snapshot = await lastValueFrom(fromChatCompletion({ baseURL: front.url, apiKey: KEY, body }).pipe(untilDone(), accumulateContent()));
      expect(snapshot.content).toBe('same origin');
      expect(front.requests[1]!.headers.authorization).toBe(`Bearer ${KEY}`);
    });

    it('a 302 is not followed with a changed method: it is an HttpError', async () => {
      const { front, target } = await redirectPair(302);
      const error = await lastValueFrom(fromChatCompletion({ baseURL: front.url, apiKey: KEY, body }).pipe(toArray())).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HttpError);
      expect((error as HttpError).status).toBe(302);
      expect(target.requests).toHaveLength(0);
    });
  });

  describe('the API key never shows', () => {
    it.each([
      ['HttpError from a body echoing the key', async (url: string) => fromChatCompletion({ baseURL: url, apiKey: KEY, body }), 'echo'],
      ['NetworkError from a refused connection', async () => fromChatCompletion({ baseURL: 'http://127.0.0.1:9', apiKey: KEY, body }), 'none'],
      ['IdleTimeoutError', async (url: string) => fromChatCompletion({ baseURL: url, apiKey: KEY, body, idleTimeout: 50 }), 'stall'],
      ['ParseError quoting a payload with the key', async (url: string) => fromChatCompletion({ baseURL: url, apiKey: KEY, body }), 'bad-json'],
      ['ApiError quoting the key', async (url: string) => fromChatCompletion({ baseURL: url, apiKey: KEY, body }), 'api-error'],
      ['NetworkError from a drop mid-body', async (url: string) => fromChatCompletion({ baseURL: url, apiKey: KEY, body }), 'drop'],
      ['Anthropic x-api-key in an HttpError', async (url: string) => fromAnthropicMessages({ baseURL: url, apiKey: KEY, body: { model: 'm', max_tokens: 1, messages: [] } }), 'echo'],
      ['Gemini x-goog-api-key in an ApiError', async (url: string) => fromGeminiContent({ baseURL: url, apiKey: KEY, model: 'm', body: { contents: [] } }), 'api-error'],
      ['a header credential (api-key) in an HttpError', async (url: string) => fromChatCompletion({ baseURL: url, headers: { 'api-key': KEY }, body }), 'echo'],
    ] as const)('in a %s: message, stack, String, JSON, fields and causes', async (_name, make, behaviour) => {
      const server = await serve(async (request, response) => {
        if (behaviour === 'echo') {
          response.writeHead(401, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}. Header was ${request.headers.authorization}` } }));
        } else if (behaviour === 'stall') {
          response.writeHead(200, SSE);
        } else if (behaviour === 'bad-json') {
          response.writeHead(200, SSE);
          response.end(`data: {"oops": "${KEY}"\n\n`);
        } else if (behaviour === 'api-error') {
          response.writeHead(200, SSE);
          response.end(`data: ${JSON.stringify({ error: { message: `bad key ${KEY}`, type: 'invalid_request_error' } })}\n\n`);
        } else if (behaviour === 'drop') {
          response.writeHead(200, SSE);
          response.write(chunk({ content: 'x' }));
          await sleep(5);
          response.socket?.destroy();
        }
      });
      const events: unknown[] = [];
      const error = await lastValueFrom((await make(server.url)).pipe(toArray())).then(
        (emitted) => {
          events.push(...emitted);
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect(error).toHaveProperty('retryable');
      expect(everything(error)).not.toContain(KEY);
      expect(JSON.stringify(events)).not.toContain(KEY);
      if (behaviour === 'stall') expect(error).toBeInstanceOf(IdleTimeoutError);
      if (behaviour === 'drop' || behaviour === 'none') expect(error).toBeInstanceOf(NetworkError);
    });

    it('the library never writes to the console', async () => {
      const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((method) => jest.spyOn(console, method).mockImplementation(() => undefined));
      const server = await serve((_request, response) => {
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end('{"error":{"message":"boom"}}');
      });
      await lastValueFrom(fromChatCompletion({ baseURL: server.url, apiKey: KEY, body }).pipe(toArray())).catch(() => undefined);
      for (const spy of spies) {
        expect(spy).not.toHaveBeenCalled();
        spy.mockRestore();
      }
    });
  });
});
