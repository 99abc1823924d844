import { firstValueFrom, lastValueFrom, toArray, type Observable } from 'rxjs';
import { fromChatCompletion, type ChatCompletionOptions } from '../src/sources/fromChatCompletion.js';
import { untilDone } from '../src/operators/untilDone.js';
import { ApiError, HttpError, IdleTimeoutError, NetworkError, ParseError } from '../src/errors.js';
import { DONE, type ChatCompletionEvent } from '../src/types.js';
import { sleep, sseHeaders, startLoopbackServer, waitFor, writeApart, type LoopbackServer } from './support/loopbackServer.js';

const KEY = 'sk-test-9f8e7d6c5b4a3210';
const body = { model: 'gpt-x', messages: [{ role: 'user', content: 'Hi' }] } as const;

const chunkJson = (content: string, id = 'chatcmpl-1') =>
  JSON.stringify({ id, object: 'chat.completion.chunk', model: 'gpt-x', choices: [{ index: 0, delta: { content }, finish_reason: null }] });

/** A stream with multi-byte characters (2, 3 and 4 bytes in UTF-8), a comment and [DONE]. */
const SAMPLE = [
  `: keep-alive\n\n`,
  `data: ${chunkJson('Bonjour, ')}\n\n`,
  `data: ${chunkJson('café 中文 ')}\n\n`,
  `data: ${chunkJson('🚀!')}\n\n`,
  `data: [DONE]\n\n`,
].join('');
const SAMPLE_CONTENTS = ['Bonjour, ', 'café 中文 ', '🚀!'];

const collect = (source: Observable<ChatCompletionEvent>) => lastValueFrom(source.pipe(toArray()));
const contents = (events: ChatCompletionEvent[]) =>
  events.map((event) => (event === DONE ? 'DONE' : event.choices[0]!.delta.content));
const failureOf = async (source: Observable<unknown>): Promise<unknown> => {
  try {
    await lastValueFrom(source);
  } catch (error) {
    return error;
  }
  throw new Error('expected the stream to fail');
};

describe('fromChatCompletion', () => {
  let server: LoopbackServer;
  const options = (extra: Partial<ChatCompletionOptions> = {}): ChatCompletionOptions => ({
    baseURL: `${server.url}/v1`,
    apiKey: KEY,
    body,
    ...extra,
  });
  afterEach(async () => {
    await server?.close();
  });

  describe('the request', () => {
    it('makes one POST to {baseURL}/chat/completions with the body, stream: true and the headers', async () => {
      server = await startLoopbackServer((_req, res) => {
        sseHeaders(res);
        res.end(SAMPLE);
      });
      await collect(fromChatCompletion(options({ headers: { 'X-Trace': 'abc' }, body: { ...body, temperature: 0.2 } })));
      expect(server.requests).toHaveLength(1);
      const [request] = server.requests;
      expect(request).toMatchObject({ method: 'POST', path: '/v1/chat/completions' });
      expect(request!.headers).toMatchObject({
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${KEY}`,
        'x-trace': 'abc',
      });
      expect(JSON.parse(request!.body)).toEqual({ ...body, temperature: 0.2, stream: true });
    });

    it('is cold: nothing is sent before subscribe, and each subscription sends its own request', async () => {
      server = await startLoopbackServer((_req, res) => {
        sseHeaders(res);
        res.end(SAMPLE);
      });
      const source = fromChatCompletion(options());
      await sleep(30);
      expect(server.requests).toHaveLength(0);
      await collect(source);
      await collect(source);
      expect(server.requests).toHaveLength(2);
    });

    it('uses options.url as given, tolerates a trailing slash on baseURL, and sends no Authorization without apiKey', async () => {
      server = await startLoopbackServer((_req, res) => {
        sseHeaders(res);
        res.end(SAMPLE);
      });
      await collect(fromChatCompletion({ url: `${server.url}/deployments/d1/chat/completions?api-version=2024-10-21`, body }));
      await collect(fromChatCompletion({ baseURL: `${server.url}/v1/`, body }));
      expect(server.requests.map((request) => request.path)).toEqual([
        '/deployments/d1/chat/completions?api-version=2024-10-21',
        '/v1/chat/completions',
      ]);
      expect(server.requests[0]!.headers.authorization).toBeUndefined();
    });

    it('calls a headers function on every subscription, so each attempt gets a fresh token', async () => {
      server = await startLoopbackServer((_req, res) => {
        sseHeaders(res);
        res.end(SAMPLE);
      });
      let issued = 0;
      const source = fromChatCompletion(options({ apiKey: undefined, headers: async () => ({ Authorization: `Bearer token-${++issued}` }) }));
      await collect(source);
      await collect(source);
      expect(server.requests.map((request) => request.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
    });
  });

  describe('parsing', () => {
    it('emits each data payload parsed, then DONE, skipping comments, and completes at the end of the body', async () => {
      server = await startLoopbackServer((_req, res) => {
        sseHeaders(res);
        res.end(SAMPLE);
      });
      const events = await collect(fromChatCompletion(options()));
      expect(contents(events)).toEqual([...SAMPLE_CONTENTS, 'DONE']);
      expect(events[0]).toMatchObject({ id: 'chatcmpl-1', object: 'chat.completion.chunk', model: 'gpt-x' });
    });

    it('gives the same chunks for the sample split at every byte offset, inside lines and characters', async () => {
      const bytes = Buffer.from(SAMPLE, 'utf8');
      server = await startLoopbackServer(async (req, res) => {
        const offset = Number(new URL(req.url!, 'http://x').searchParams.get('split'));
        sseHeaders(res);
        await writeApart(res, [bytes.subarray(0, offset), bytes.subarray(offset)], 1);
        res.end();
      });
      const expected = [...SAMPLE_CONTENTS, 'DONE'];
      for (let offset = 1; offset < bytes.length; offset++) {
        const events = await collect(fromChatCompletion({ url: `${server.url}/v1/chat/completions?split=${offset}`, body }));
        if (JSON.stringify(contents(events)) !== JSON.stringify(expected)) {
          throw new Error(`split at byte ${offset} gave ${JSON.stringify(contents(events))}`);
        }
      }
      expect(server.requests).toHaveLength(bytes.length - 1);
    });

    it('gives the same chunks when every byte arrives alone', async () => {
      const bytes = Buffer.from(SAMPLE, 'utf8');
      server = await startLoopbackServer(async (_req, res) => {
        sseHeaders(res);
        await writeApart(res, [...bytes].map((byte) => Buffer.from([byte])), 0);
        res.end();
      });
      expect(contents(await collect(fromChatCompletion(options())))).toEqual([...SAMPLE_CONTENTS, 'DONE']);
    });

    it.each([
      ['LF', '\n'],
      ['CRLF', '\r\n'],
      ['CR', '\r'],
    ])('reads %s line endings, even split between CR and LF', async (_name, eol) => {
      const text = SAMPLE.replace(/\n/g, eol);
      server = await startLoopbackServer(async (_req, res) => {
        sseHeaders(res);
        // split right after every CR to catch a CR waiting for its LF
        const parts = text.split(/(?<=\r)/);
        await writeApart(res, parts, 1);
        res.end();
      });
      expect(contents(await collect(fromChatCompletion(options())))).toEqual([...SAMPLE_CONTENTS, 'DONE']);
    });

    it('emits DONE at once with CR framing even when the server keeps the connection open', async () => {
      server = await startLoopbackServer((_req, res) => {
        sseHeaders(res);
        res.write(`data: ${chunkJson('x')}\r\rdata: [DONE]\r\r`);
      });
      const events = await firstValueFrom(fromChatCompletion(options()).pipe(untilDone(), toArray()));
      expect(contents(events)).toEqual(['x']);
    });

    it('ignores keep-alive comments, empty data, event names and other fields', async () => {
      server = await startLoopbackServer((_req, res) => {
        sseHeaders(res);
        res.end(
          [
            ': OPENROUTER PROCESSING\n\n',
            ':\n\n',
            'data:\n\n',
            'retry: 1000\nid: 7\n\n',
            `event: message\nid: 8\ndata: ${chunkJson('a')}\n\n`,
            'unknown-field: value\n\n',
            `data: ${chunkJson('b')}\n\n`,
            'data: [DONE]\n\n',
          ].join(''),
        );
      });
      expect(contents(await collect(fromChatCompletion(options())))).toEqual(['a', 'b', 'DONE']);
    });

    it('emits each chunk as soon as its bytes arrive', async () => {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      server = await startLoopbackServer(async (_req, res) => {
        sseHeaders(res);
        res.write(`data: ${chunkJson('first')}\n\n`);
        await released;
        res.end(`data: ${chunkJson('second')}\n\ndata: [DONE]\n\n`);
      });
      const first = await firstValueFrom(fromChatCompletion(options()));
      release();
      expect(contents([first])).toEqual(['first']);
    });

    it('completes without DONE when the body ends early (untilDone judges that)', async () => {
      server = await startLoopbackServer((_req, res) => {
        sseHeaders(res);
        res.end(`data: ${chunkJson('half')}\n\n`);
      });
      expect(contents(await collect(fromChatCompletion(options())))).toEqual(['half']);
    });
  });

  describe('errors', () => {
    it('fails with HttpError carrying the status, the provider message and Retry-After in seconds', async () => {
      server = await startLoopbackServer((_req, res) => {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
        res.end(JSON.stringify({ error: { message: 'Rate limit reached for gpt-x', type: 'requests', code: 'rate_limit_exceeded' } }));
      });
      const error = await failureOf(fromChatCompletion(options()));
      expect(error).toBeInstanceOf(HttpError);
      expect(error).toMatchObject({ name: 'HttpError', status: 429, retryAfterMs: 7000, retryable: true });
      expect((error as Error).message).toContain('Rate limit reached for gpt-x');
      expect((error as Error).message).toContain('429');
    });

    it('reads Retry-After as an HTTP-date and retry-after-ms before it', async () => {
      const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
      let answer = 0;
      server = await startLoopbackServer((_req, res) => {
        const headers: Record<string, string> =
          answer++ === 0 ? { 'retry-after': inTenSeconds } : { 'retry-after': '30', 'retry-after-ms': '1500' };
        res.writeHead(503, headers);
        res.end('upstream overloaded');
      });
      const byDate = (await failureOf(fromChatCompletion(options()))) as HttpError;
      expect(byDate.retryAfterMs).toBeGreaterThan(8000);
      expect(byDate.retryAfterMs).toBeLessThanOrEqual(10_000);
      expect(byDate.message).toContain('upstream overloaded');
      const byMs = (await failureOf(fromChatCompletion(options()))) as HttpError;
      expect(byMs.retryAfterMs).toBe(1500);
    });

    it.each([
      [400, false],
      [401, false],
      [403, false],
      [404, false],
      [408, true],
      [409, true],
      [425, true],
      [429, true],
      [500, true],
      [502, true],
      [503, true],
      [529, true],
    ])('marks HTTP %i retryable: %s', async (status, retryable) => {
      server = await startLoopbackServer((_req, res) => {
        res.writeHead(status);
        res.end();
      });
      expect(await failureOf(fromChatCompletion(options()))).toMatchObject({ status, retryable, retryAfterMs: undefined });
    });

    it('fails with NetworkError when nothing listens', async () => {
      server = await startLoopbackServer(() => undefined);
      const { url } = server;
      await server.close();
      const error = await failureOf(fromChatCompletion({ baseURL: url, body }));
      expect(error).toBeInstanceOf(NetworkError);
      expect(error).toMatchObject({ retryable: true });
      expect((error as Error).message).toContain(url);
    });

    it('fails with NetworkError when the connection drops mid-body', async () => {
      server = await startLoopbackServer(async (_req, res) => {
        sseHeaders(res);
        res.write(`data: ${chunkJson('partial')}\n\ndata: {"id":"chat`);
        await sleep(20);
        res.socket?.destroy();
      });
      const events: ChatCompletionEvent[] = [];
      const error = await new Promise((resolve) =>
        fromChatCompletion(options()).subscribe({ next: (event) => events.push(event), error: resolve }),
      );
      expect(contents(events)).toEqual(['partial']);
      expect(error).toBeInstanceOf(NetworkError);
    });

    it('fails with ApiError for an error object inside the stream', async () => {
      server = await startLoopbackServer((_req, res) => {
        sseHeaders(res);
        res.end(
          `data: ${chunkJson('a')}\n\ndata: {"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}\n\n`,
        );
      });
      const error = await failureOf(fromChatCompletion(options()));
      expect(error).toBeInstanceOf(ApiError);
      expect(error).toMatchObject({ name: 'ApiError', type: 'server_error', retryable: true });
      expect((error as Error).message).toContain('The server had an error');
    });

    it('marks an in-stream error retryable only when the provider says overload or server error', async () => {
      server = await startLoopbackServer((_req, res) => {
        sseHeaders(res);
        res.end('data: {"object":"error","message":"bad input","type":"BadRequestError","param":null,"code":400}\n\n');
      });
      expect(await failureOf(fromChatCompletion(options()))).toMatchObject({ name: 'ApiError', code: 400, retryable: false });
    });

    it('fails with ParseError carrying a short excerpt for a payload that is not JSON', async () => {
      const junk = `{"id": broken ${'x'.repeat(500)}`;
      server = await startLoopbackServer((_req, res) => {
        sseHeaders(res);
        res.end(`data: ${junk}\n\n`);
      });
      const error = (await failureOf(fromChatCompletion(options()))) as ParseError;
      expect(error).toBeInstanceOf(ParseError);
      expect(error.retryable).toBe(false);
      expect(error.excerpt.startsWith('{"id": broken')).toBe(true);
      expect(error.excerpt.length).toBeLessThan(200);
    });

    it('fails with ParseError for an HTML page served with 200', async () => {
      server = await startLoopbackServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<html><body>Login required</body></html>');
      });
      const error = await failureOf(fromChatCompletion(options()));
      expect(error).toBeInstanceOf(ParseError);
      expect((error as Error).message).toContain('text/html');
    });
  });

  describe('idle timeout', () => {
    it('fails with IdleTimeoutError when no byte comes after the request, and aborts it', async () => {
      server = await startLoopbackServer(() => undefined);
      const started = performance.now();
      const error = await failureOf(fromChatCompletion(options({ idleTimeout: 150 })));
      expect(error).toBeInstanceOf(IdleTimeoutError);
      expect(error).toMatchObject({ timeoutMs: 150, retryable: true });
      expect(performance.now() - started).toBeGreaterThanOrEqual(140);
      await expect(server.requests[0]!.closed).resolves.toEqual(expect.any(Number));
    });

    it('counts from the last byte: a slow but steady body is not cut', async () => {
      server = await startLoopbackServer(async (_req, res) => {
        sseHeaders(res);
        const text = SAMPLE;
        const pieces = Array.from({ length: 8 }, (_, i) => text.slice((i * text.length) / 8, ((i + 1) * text.length) / 8));
        await writeApart(res, pieces, 60);
        res.end();
      });
      expect(contents(await collect(fromChatCompletion(options({ idleTimeout: 200 }))))).toEqual([...SAMPLE_CONTENTS, 'DONE']);
    });

    it('fails when the body stalls midway', async () => {
      server = await startLoopbackServer((_req, res) => {
        sseHeaders(res);
        res.write(`data: ${chunkJson('a')}\n\n`);
      });
      const events: ChatCompletionEvent[] = [];
      const error = await new Promise((resolve) =>
        fromChatCompletion(options({ idleTimeout: 120 })).subscribe({ next: (event) => events.push(event), error: resolve }),
      );
      expect(contents(events)).toEqual(['a']);
      expect(error).toBeInstanceOf(IdleTimeoutError);
      await server.requests[0]!.closed;
    });

    it('can be turned off with 0 or Infinity', async () => {
      server = await startLoopbackServer(async (_req, res) => {
        await sleep(80);
        sseHeaders(res);
        res.end(SAMPLE);
      });
      for (const idleTimeout of [0, Infinity]) {
        expect(contents(await collect(fromChatCompletion(options({ idleTimeout }))))).toHaveLength(4);
      }
    });
  });

  describe('cancellation', () => {
    it('aborts the request on unsubscribe: the server sees the connection close within 500 ms', async () => {
      server = await startLoopbackServer((_req, res) => {
        sseHeaders(res);
        res.write(`data: ${chunkJson('a')}\n\n`);
      });
      const subscription = fromChatCompletion(options()).subscribe();
      // Until the server has the request (a fixed wait was too short with the CPU loaded).
      await waitFor(() => server.requests.length > 0);
      expect(server.requests).toHaveLength(1);
      const unsubscribedAt = performance.now();
      subscription.unsubscribe();
      const closedAt = await server.requests[0]!.closed;
      expect(closedAt - unsubscribedAt).toBeLessThan(500);
    });

    it('aborts before the response headers too', async () => {
      server = await startLoopbackServer(() => undefined);
      const subscription = fromChatCompletion(options()).subscribe();
      await waitFor(() => server.requests.length > 0);
      const unsubscribedAt = performance.now();
      subscription.unsubscribe();
      expect((await server.requests[0]!.closed) - unsubscribedAt).toBeLessThan(500);
    });

    it('closes the connection after untilDone completes, even when the server keeps it open after [DONE]', async () => {
      server = await startLoopbackServer((_req, res) => {
        sseHeaders(res);
        res.write(SAMPLE);
      });
      const events = await lastValueFrom(fromChatCompletion(options()).pipe(untilDone(), toArray()));
      const doneAt = performance.now();
      expect(events).toHaveLength(3);
      expect((await server.requests[0]!.closed) - doneAt).toBeLessThan(500);
    });
  });

  describe('bad options fail before any request', () => {
    beforeEach(async () => {
      server = await startLoopbackServer((_req, res) => {
        res.end();
      });
    });
    const cases: Array<[string, () => Partial<ChatCompletionOptions> | null, typeof TypeError | typeof RangeError]> = [
      ['no options', () => null, TypeError],
      ['no body', () => ({ body: undefined as never }), TypeError],
      ['a baseURL that is not http(s)', () => ({ baseURL: 'ftp://example.com/v1' }), TypeError],
      ['a baseURL that is not a URL', () => ({ baseURL: 'api.openai.com' }), TypeError],
      ['a url that is not http(s)', () => ({ url: 'file:///etc/passwd' }), TypeError],
      ['an empty apiKey', () => ({ apiKey: '' }), TypeError],
      ['an apiKey with a line break', () => ({ apiKey: 'sk-abc\r\nX-Evil: 1' }), TypeError],
      ['a header value with LF', () => ({ headers: { 'X-A': 'a\nb' } }), TypeError],
      ['a header name with a space', () => ({ headers: { 'X A': 'a' } }), TypeError],
      ['a negative idleTimeout', () => ({ idleTimeout: -1 }), RangeError],
      ['a NaN idleTimeout', () => ({ idleTimeout: NaN }), TypeError],
      ['a fetch that is not a function', () => ({ fetch: 'fetch' as never }), TypeError],
      ['a maxEventSize of 0', () => ({ maxEventSize: 0 }), RangeError],
    ];
    it.each(cases)('%s', async (_name, make, type) => {
      const extra = make();
      expect(() => fromChatCompletion(extra === null ? (undefined as never) : options(extra))).toThrow(type);
      await sleep(10);
      expect(server.requests).toHaveLength(0);
    });

    it('never quotes the API key in a validation error', () => {
      expect(() => fromChatCompletion(options({ apiKey: `${KEY}\n` }))).toThrow(expect.objectContaining({ message: expect.not.stringContaining(KEY) }));
    });

    it('fails the subscription with a TypeError, before any request, when a headers function returns a bad value', async () => {
      const error = await failureOf(fromChatCompletion(options({ headers: () => ({ 'X-A': 'a\r\nb' }) })));
      expect(error).toBeInstanceOf(TypeError);
      expect(server.requests).toHaveLength(0);
    });
  });

  describe('the API key', () => {
    const secretFree = (error: unknown) => {
      const e = error as Error;
      const texts = [e.message, String(e), e.stack ?? '', JSON.stringify(e), JSON.stringify({ ...e })];
      for (let cause = e.cause as Error | undefined; cause; cause = cause.cause as Error | undefined) {
        texts.push(cause.message, String(cause.stack));
      }
      return texts.every((text) => !text.includes(KEY));
    };

    it('never appears in an HttpError, even when the provider echoes it', async () => {
      server = await startLoopbackServer((req, res) => {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${String(req.headers.authorization).slice(7)}` } }));
      });
      const error = await failureOf(fromChatCompletion(options()));
      expect(error).toMatchObject({ status: 401, retryable: false });
      expect((error as Error).message).toContain('Incorrect API key provided: [redacted]');
      expect(secretFree(error)).toBe(true);
    });

    it('never appears in an ApiError or ParseError built from the stream', async () => {
      server = await startLoopbackServer((req, res) => {
        sseHeaders(res);
        const key = String(req.headers.authorization).slice(7);
        res.end(req.url!.endsWith('api') ? `data: {"error":{"message":"bad key ${key}"}}\n\n` : `data: not json ${key}\n\n`);
      });
      for (const path of ['api', 'parse']) {
        const error = await failureOf(fromChatCompletion(options({ url: `${server.url}/${path}`, baseURL: undefined })));
        expect(secretFree(error)).toBe(true);
        expect(JSON.stringify((error as ParseError).excerpt ?? '')).not.toContain(KEY);
      }
    });

    it('never appears in a NetworkError or its causes', async () => {
      const leakyFetch = async () => {
        throw new TypeError('fetch failed', { cause: new Error(`connect ECONNREFUSED while sending Bearer ${KEY}`) });
      };
      server = await startLoopbackServer(() => undefined);
      const error = await failureOf(fromChatCompletion(options({ fetch: leakyFetch })));
      expect(error).toBeInstanceOf(NetworkError);
      expect(secretFree(error)).toBe(true);
    });
  });
});
