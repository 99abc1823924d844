import fc from 'fast-check';
import { inspect } from 'node:util';
import { lastValueFrom, type Observable } from 'rxjs';
import { fromChatCompletion, fromGeminiContent, NetworkError, type ApiError, type FetchLike } from '../src/index.js';
import { cleanMessage, findErrorObject, toApiError } from '../src/internal/errorObject.js';
import { geminiChunk, newGeminiState } from '../src/providers/geminiChunks.js';
import { parsePayload } from '../src/providers/parsePayload.js';
import { redact, redactError } from '../src/internal/redact.js';
import { credentialValues } from '../src/transport/streamRequest.js';
import { assertHttpUrl } from '../src/internal/validate.js';
import { sseHeaders, startLoopbackServer, type LoopbackServer } from './support/loopbackServer';
import { withTelemetry } from '../src/telemetry/index.js';
import { startTelemetryHarness } from './support/telemetryHarness';

const body = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };

const failureOf = async (source: Observable<unknown>): Promise<unknown> => {
  try {
    await lastValueFrom(source);
  } catch (error) {
    return error;
  }
  throw new Error('expected the source to fail');
};

/**
 * Every way the test knows to render an error: message, `String()`, stack,
 * JSON of its own enumerable fields, `util.inspect` with hidden fields at any
 * depth, and the same for every cause and aggregated error in the chain.
 */
function renderings(error: unknown): string[] {
  const texts: string[] = [inspect(error, { depth: Infinity, showHidden: true }), inspect(error, { depth: Infinity })];
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number) => {
    if (seen.has(value) || depth > 50) return;
    seen.add(value);
    if (typeof value !== 'object' || value === null) {
      texts.push(String(value));
      return;
    }
    const record = value as { message?: unknown; stack?: unknown; cause?: unknown; errors?: unknown };
    texts.push(String(value), String(record.message), String(record.stack), JSON.stringify(value) ?? '', JSON.stringify({ ...value }));
    if (record.cause !== undefined) visit(record.cause, depth + 1);
    if (Array.isArray(record.errors)) for (const inner of record.errors) visit(inner, depth + 1);
  };
  visit(error, 0);
  return texts;
}

/**
 * The forms of a key the test looks for, computed independently of the
 * library: as is, trimmed, JSON-escaped (plain, `\/`, ASCII-only),
 * URL-encoded (component and form encoding).
 */
function formsOf(...values: string[]): string[] {
  const forms = new Set<string>();
  for (const value of values.flatMap((v) => [v, v.trim()])) {
    const json = JSON.stringify(value).slice(1, -1);
    const ascii = json.replace(/[^\x00-\x7f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
    for (const form of [value, json, json.replace(/\//g, '\\/'), ascii, ascii.replace(/\//g, '\\/')]) forms.add(form);
    const encoded = encodeURIComponent(value);
    forms.add(encoded);
    forms.add(encoded.replace(/%20/g, '+'));
  }
  forms.delete('');
  return [...forms];
}

function leaksOf(error: unknown, forms: string[]): string[] {
  return renderings(error).flatMap((text) => forms.filter((form) => text.includes(form)).map((form) => `${JSON.stringify(form)} in ${text.slice(0, 300)}`));
}

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('no key in any error', () => {
  let server: LoopbackServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  describe('each finding', () => {
    const KEY = 'sk-leak/test+key=42';

    it('redacts the bare token a server echoes from Authorization: Bearer in options.headers', async () => {
      server = await startLoopbackServer((req, res) => {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `Token ${String(req.headers.authorization).replace(/^Bearer /, '')} is not valid` } }));
      });
      const error = await failureOf(fromChatCompletion({ baseURL: server.url, body, headers: { Authorization: `Bearer ${KEY}` } }));
      expect((error as Error).message).toContain('Token [redacted] is not valid');
      expect(leaksOf(error, formsOf(KEY))).toEqual([]);
    });

    it('redacts decoded Basic credentials: the user:password pair and the password', async () => {
      const header = `Basic ${base64(`alice:${KEY}`)}`;
      server = await startLoopbackServer((req, res) => {
        const pair = Buffer.from(String(req.headers.authorization).slice(6), 'base64').toString('utf8');
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `Credentials ${pair}, password ${pair.split(':')[1]}, header ${req.headers.authorization}` } }));
      });
      const error = await failureOf(fromChatCompletion({ baseURL: server.url, body, headers: { Authorization: header } }));
      expect((error as Error).message).toContain('Credentials [redacted], password [redacted], header [redacted]');
      expect(leaksOf(error, formsOf(KEY, `alice:${KEY}`, header, base64(`alice:${KEY}`)))).toEqual([]);
    });

    it("redacts a key echoed in an in-stream error's type, code and param, and strips their control characters", async () => {
      server = await startLoopbackServer((req, res) => {
        const key = String(req.headers.authorization).slice(7);
        sseHeaders(res);
        res.end(`data: ${JSON.stringify({ error: { message: 'no', type: `bad_${key}\u001b[2J`, code: `c-${key}`, param: `p\u009b31m-${key}` } })}\n\n`);
      });
      const error = (await failureOf(fromChatCompletion({ baseURL: server.url, body, apiKey: KEY }))) as ApiError;
      expect(error.name).toBe('ApiError');
      expect([error.type, error.code, error.param]).toEqual(['bad_[redacted]', 'c-[redacted]', 'p-[redacted]']);
      expect(error.message).toBe('The provider sent an error (bad_[redacted]): no');
      expect(leaksOf(error, formsOf(KEY))).toEqual([]);
    });

    it("redacts and cleans Gemini's blockReason", async () => {
      server = await startLoopbackServer((req, res) => {
        sseHeaders(res);
        res.end(`data: ${JSON.stringify({ candidates: [], promptFeedback: { blockReason: `SAFETY ${req.headers['x-goog-api-key']}\u001b]0;pwned\u0007` } })}\n\n`);
      });
      const error = (await failureOf(fromGeminiContent({ baseURL: server.url, model: 'g', apiKey: KEY, body: { contents: [] } }))) as ApiError;
      expect(error.code).toBe('SAFETY [redacted]');
      expect(error.message).toContain('Gemini blocked the prompt (SAFETY [redacted])');
      expect(leaksOf(error, formsOf(KEY))).toEqual([]);
    });

    it('redacts the trimmed key (fetch trims the header), a JSON-escaped `\\/` echo and URL-encoded echoes', async () => {
      server = await startLoopbackServer((req, res) => {
        const sent = String(req.headers.authorization).slice(7).trim();
        res.writeHead(401, { 'content-type': 'text/plain' });
        res.end(`got "${sent}" alias ${JSON.stringify(sent).replace(/\//g, '\\/')} or ${encodeURIComponent(sent)} or ${new URLSearchParams({ k: sent })}`);
      });
      const error = await failureOf(fromChatCompletion({ baseURL: server.url, body, apiKey: `  ${KEY} ` }));
      expect((error as Error).message).toContain('got "[redacted]" alias "[redacted]" or [redacted] or k=[redacted]');
      expect(leaksOf(error, formsOf(KEY))).toEqual([]);
    });

    it('redacts a JSON-escaped key in a ParseError excerpt of a payload that is not JSON', async () => {
      server = await startLoopbackServer((req, res) => {
        sseHeaders(res);
        res.end(`data: {"oops": ${JSON.stringify(req.headers['x-api-key']).replace(/\//g, '\\/')}\n\n`);
      });
      const error = await failureOf(fromChatCompletion({ baseURL: server.url, body, headers: { 'x-api-key': KEY } }));
      expect(error).toMatchObject({ name: 'ParseError', excerpt: '{"oops": "[redacted]"' });
      expect(leaksOf(error, formsOf(KEY))).toEqual([]);
    });

    describe('causes from a custom fetch or a body that errors', () => {
      const axiosLike = () =>
        Object.assign(new Error('Request failed with status code 401'), {
          config: { headers: { Authorization: `Bearer ${KEY}` } },
          response: { data: { echoed: KEY } },
        });
      const deepChain = () => {
        let error = new Error(`level 0 ${KEY}`);
        for (let level = 1; level < 9; level++) error = new Error(`level ${level}`, { cause: Object.assign(error, { key: KEY }) });
        return error;
      };
      const rejections: Array<[string, () => unknown]> = [
        ['an axios-like error with config.headers', axiosLike],
        ['a string', () => `failed with ${KEY}`],
        ['a plain object', () => ({ message: 'failed', headers: { 'x-api-key': KEY } })],
        ['a chain deeper than 5', deepChain],
        ['an AggregateError', () => new AggregateError([axiosLike(), new Error(`inner ${KEY}`)], 'all failed')],
      ];

      it.each(rejections)('a fetch rejecting with %s', async (_, make) => {
        const fetch: FetchLike = () => Promise.reject(make());
        const error = await failureOf(fromChatCompletion({ baseURL: 'http://127.0.0.1:9', body, apiKey: KEY, fetch }));
        expect(error).toBeInstanceOf(NetworkError);
        expect((error as Error).cause).toBeInstanceOf(Error);
        expect(leaksOf(error, formsOf(KEY))).toEqual([]);
      });

      it('keeps a rebuilt AggregateError an AggregateError, its errors and the chain bounded', async () => {
        const fetch: FetchLike = () => Promise.reject(new Error('outer', { cause: new AggregateError([new Error(`a ${KEY}`), deepChain()], 'many') }));
        const error = (await failureOf(fromChatCompletion({ baseURL: 'http://127.0.0.1:9', body, apiKey: KEY, fetch }))) as Error;
        const aggregate = (error.cause as Error).cause as AggregateError;
        expect(aggregate).toBeInstanceOf(AggregateError);
        expect(aggregate.errors.map((inner: Error) => inner.message)).toEqual(['a [redacted]', 'level 8']);
        let depth = 0;
        for (let cause: unknown = error.cause; cause !== undefined; cause = (cause as Error).cause) depth++;
        expect(depth).toBeLessThanOrEqual(5);
      });

      it('a body that errors with enumerable detail', async () => {
        const fetch: FetchLike = async () =>
          new Response(
            new ReadableStream({
              start(controller) {
                controller.enqueue(new TextEncoder().encode('data: {"choices":[]}\n\n'));
                controller.error(Object.assign(new Error('reset'), { detail: { request: { headers: { authorization: `Bearer ${KEY}` } } } }));
              },
            }),
            { headers: { 'content-type': 'text/event-stream' } },
          );
        const error = await failureOf(fromChatCompletion({ baseURL: 'http://127.0.0.1:9', body, apiKey: KEY, fetch }));
        expect(error).toBeInstanceOf(NetworkError);
        expect(leaksOf(error, formsOf(KEY))).toEqual([]);
      });
    });

    it('refuses user:password@ in baseURL and url with a TypeError that does not repeat it', () => {
      const password = encodeURIComponent(KEY);
      for (const options of [{ baseURL: `http://alice:${password}@127.0.0.1:9/v1` }, { url: `https://${password}@example.test/v1/chat/completions` }]) {
        let thrown: unknown;
        try {
          fromChatCompletion({ ...options, body });
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(TypeError);
        expect((thrown as Error).message).toMatch(/credentials/);
        expect(leaksOf(thrown, formsOf(KEY, `alice:${KEY}`))).toEqual([]);
      }
      expect(assertHttpUrl('baseURL', 'http://127.0.0.1:9/v1/')).toBe('http://127.0.0.1:9/v1');
    });

    it.each([
      ['the user name of a Basic pair with an empty password', [`Basic ${base64('sk_live_51abc:')}`], 'key sk_live_51abc here', 'key [redacted] here'],
      ['a token after any scheme', ['SSWS 00abc-okta-token'], 'bad token 00abc-okta-token', 'bad token [redacted]'],
      ['a key JSON-escaped twice, with \\/', ['sk-a/b"c'], 'raw {\\"k\\":\\"sk-a\\\\\\/b\\\\\\\"c\\"}', 'raw {\\"k\\":\\"[redacted]\\"}'],
      ['a key with non-ASCII as upper-case \\u escapes', ['sk-é日'], 'got sk-\\u00E9\\u65E5', 'got [redacted]'],
      ['a key URL-encoded with lower-case hex', ['sk/é key'], 'q=sk%2f%c3%a9+key', 'q=[redacted]'],
      ['the trimmed password of a Basic pair, form-encoded', [`Basic ${base64('alice:aaa  aaaaa\t')}`], 'k=aaa++aaaaa', 'k=[redacted]'],
      ['a key the server cut into by a control character', ['sk-split-key'], 'sk-split\u0000-key', '[redacted]'],
    ])('redact covers %s', (_, secrets, text, expected) => {
      expect(redact(text, secrets)).toBe(expected);
    });

    it('strips terminal sequences and C0/C1 controls from a provider message', () => {
      const message = cleanMessage('a\u001b[2Jb\u001b]52;c;ZXZpbA==\u0007c\u001b]8;;http://x\u001b\\d\u0000e\u0085f\rg\u009b1;31mh', []);
      expect(message).toBe('abcdef gh');
    });
  });

  describe('property: any key, any auth scheme, any echo place', () => {
    const keyChars = fc.constantFrom(...'abcXYZ019/+= -_.~%&<>"\'\\éß日本😀'.split(/(?:)/u));
    const key = fc
      .tuple(fc.string({ unit: keyChars, minLength: 10, maxLength: 24 }), fc.constantFrom('', ' ', '  ', '\t'), fc.constantFrom('', ' ', '\t'))
      .filter(([core]) => core.trim().length >= 8 && /[^A-Za-z]/.test(core) && !/^\s|\s$/.test(core))
      .map(([core, before, after]) => `${before}${core}${after}`);
    const latin1Key = key.filter((value) => /^[\x20-\x7e\t\xa0-\xff]+$/.test(value));

    /** How the key is sent: the secrets the library registers, and the strings a server could echo. */
    const auth = fc.oneof(
      fc.constant({ kind: 'apiKey' as const }),
      fc.record({ kind: fc.constant('scheme' as const), scheme: fc.constantFrom('Bearer', 'Token', 'token', 'ApiKey', 'Key', 'SSWS') }),
      fc.record({ kind: fc.constant('basic' as const), user: fc.constantFrom('alice', 'api', 'u-1') }),
      fc.record({ kind: fc.constant('header' as const), name: fc.constantFrom('x-api-key', 'api-key', 'X-Auth-Token', 'x-goog-api-key', 'Cookie') }),
    );
    type Auth = { kind: 'apiKey' } | { kind: 'scheme'; scheme: string } | { kind: 'basic'; user: string } | { kind: 'header'; name: string };

    function sending(k: string, a: Auth): { apiKey?: string; headers: Record<string, string>; secrets: string[]; echoes: string[] } {
      const t = k.trim();
      switch (a.kind) {
        case 'apiKey':
          return { apiKey: k, headers: {}, secrets: [k], echoes: [k, t, `Bearer ${t}`] };
        case 'scheme': {
          const headers = { Authorization: `${a.scheme} ${k}` };
          return { headers, secrets: credentialValues(headers), echoes: [t, `${a.scheme} ${t}`] };
        }
        case 'basic': {
          const token = base64(`${a.user}:${k}`);
          const headers = { Authorization: `Basic ${token}` };
          return { headers, secrets: credentialValues(headers), echoes: [k, t, `${a.user}:${k}`, token, `Basic ${token}`] };
        }
        case 'header': {
          const headers = { [a.name]: k };
          return { headers, secrets: credentialValues(headers), echoes: [k, t] };
        }
      }
    }
    /** What the test forbids: every form of the key, and of the Basic pair and token. */
    function forbidden(k: string, a: Auth): string[] {
      return a.kind === 'basic' ? formsOf(k, `${a.user}:${k}`, base64(`${a.user}:${k}`)) : formsOf(k);
    }

    /** What a server does to the string it echoes. */
    const transform = fc.constantFrom<[string, (text: string) => string]>(
      ['as is', (text) => text],
      ['JSON-escaped', (text) => JSON.stringify(text).slice(1, -1)],
      ['JSON-escaped with \\/', (text) => JSON.stringify(text).slice(1, -1).replace(/\//g, '\\/')],
      ['JSON-escaped ASCII', (text) => JSON.stringify(text).slice(1, -1).replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)],
      ['URL-encoded', (text) => encodeURIComponent(text)],
      ['form-encoded', (text) => new URLSearchParams({ k: text }).toString().slice(2)],
    );
    const around = fc.string({ maxLength: 12 }).map((text) => text.replace(/\[/g, '('));
    const noise = fc.constantFrom('', '\u001b[31m', '\u001b]0;title\u0007', '\u009b2J', '\n\t');

    /** The error-building steps every source uses, fed a server string that holds the echo. */
    const places: Record<string, (echo: string, secrets: string[], sentHeaders: Record<string, string>) => unknown> = {
      'HTTP error body message': (echo, secrets) => new Error(`fromChatCompletion: HTTP 401: ${cleanMessage(echo, secrets)}`),
      'in-stream error message': (echo, secrets) => toApiError(findErrorObject(parsePayload(JSON.stringify({ error: { message: echo } }), secrets, 's'))!, secrets),
      'in-stream error type': (echo, secrets) => toApiError(findErrorObject({ error: { message: 'm', type: echo } })!, secrets),
      'in-stream error code': (echo, secrets) => toApiError(findErrorObject({ error: { message: 'm', code: echo } })!, secrets),
      'in-stream error param': (echo, secrets) => toApiError(findErrorObject({ error: { message: 'm', param: echo } })!, secrets),
      'vLLM-style error object': (echo, secrets) => toApiError(findErrorObject({ object: 'error', message: echo, type: echo, code: echo })!, secrets),
      'Gemini blockReason': (echo, secrets) => {
        try {
          geminiChunk({ data: JSON.stringify({ candidates: [], promptFeedback: { blockReason: echo } }), event: undefined, id: undefined }, newGeminiState(), secrets, 'g');
        } catch (error) {
          return error;
        }
        throw new Error('expected a blocked prompt to fail');
      },
      'ParseError excerpt': (echo, secrets) => {
        try {
          parsePayload(`{"oops": "${echo}`, secrets, 's');
        } catch (error) {
          return error;
        }
        throw new Error('expected a broken payload to fail');
      },
      'cause: axios-like error': (echo, secrets, headers) =>
        new NetworkError('failed', { cause: redactError(Object.assign(new Error(`failed ${echo}`), { config: { headers }, data: echo }), secrets) }),
      'cause: string': (echo, secrets) => new NetworkError('failed', { cause: redactError(`failed ${echo}`, secrets) }),
      'cause: plain object': (echo, secrets, headers) => new NetworkError('failed', { cause: redactError({ message: echo, name: echo, headers }, secrets) }),
      'cause: AggregateError deep chain': (echo, secrets) => {
        let inner = new Error(echo);
        for (let level = 0; level < 7; level++) inner = new Error(`${level} ${echo}`, { cause: inner });
        return new NetworkError('failed', { cause: redactError(new AggregateError([inner, echo], echo, { cause: echo }), secrets) });
      },
      'redact on its own': (echo, secrets) => new Error(redact(echo, secrets)),
    };

    // The generous timeouts of the two properties only guard against a hang: a loaded machine runs them slowly.
    it('holds through the error-building steps (200 runs)', () => {
      fc.assert(
        fc.property(
          key,
          auth,
          fc.constantFrom(...Object.keys(places)),
          transform,
          fc.nat(),
          around,
          around,
          noise,
          (k, a, place, [, change], pick, before, after, control) => {
            const sent = sending(k, a);
            const echoed = change(sent.echoes[pick % sent.echoes.length]!);
            const error = places[place]!(`${before}${control}${echoed}${control}${after}`, sent.secrets, sent.headers);
            expect(leaksOf(error, forbidden(k, a))).toEqual([]);
          },
        ),
        { numRuns: 200 },
      );
    }, 120_000);

    it('holds for real requests against a loopback server (40 runs)', async () => {
      /** Set per run: what the server echoes and where. */
      let plan = { place: 'status', echo: (_headerValue: string) => '' };
      server = await startLoopbackServer((req, res) => {
        const headerValue = String(req.headers.authorization ?? req.headers['x-api-key'] ?? req.headers['api-key'] ?? req.headers['x-auth-token'] ?? req.headers['x-goog-api-key'] ?? req.headers.cookie ?? '');
        const echo = plan.echo(headerValue);
        if (plan.place === 'status') {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: `bad key ${echo}`, type: echo } }));
          return;
        }
        sseHeaders(res);
        if (plan.place === 'stream') res.end(`data: ${JSON.stringify({ error: { message: echo, type: echo, code: echo, param: echo } })}\n\n`);
        else res.end(`data: {"broken": "${echo}\n\n`);
      });
      const url = server.url;
      await fc.assert(
        fc.asyncProperty(
          latin1Key,
          auth,
          fc.constantFrom('status', 'stream', 'malformed', 'fetch rejects'),
          transform,
          fc.nat(),
          async (k, a, place, [, change], pick) => {
            const sent = sending(k, a);
            plan = {
              place,
              echo: (headerValue) => {
                const choices = [...sent.echoes, headerValue];
                return change(choices[pick % choices.length]!);
              },
            };
            const fetch: FetchLike | undefined =
              place === 'fetch rejects'
                ? (_, init) => {
                    const credential = Object.entries(init.headers as Record<string, string>).find(([name]) => /auth|key|cookie/i.test(name));
                    return Promise.reject(Object.assign(new Error(`refused ${plan.echo(credential?.[1] ?? '')}`), { init }));
                  }
                : undefined;
            const error = await failureOf(fromChatCompletion({ baseURL: url, body, apiKey: sent.apiKey, headers: sent.headers, fetch, idleTimeout: 10_000 }));
            expect(leaksOf(error, forbidden(k, a))).toEqual([]);
          },
        ),
        { numRuns: 40 },
      );
    }, 120_000);

    it('holds for telemetry: every span, event, status and metric of failed and retried answers (40 runs)', async () => {
      let plan = { place: 'status', echo: (_headerValue: string) => '' };
      server = await startLoopbackServer((req, res) => {
        const headerValue = String(req.headers.authorization ?? req.headers['x-api-key'] ?? req.headers['api-key'] ?? req.headers['x-auth-token'] ?? req.headers['x-goog-api-key'] ?? req.headers.cookie ?? '');
        const echo = plan.echo(headerValue);
        if (plan.place === 'status') {
          res.writeHead(503, { 'content-type': 'application/json', 'retry-after-ms': '0' });
          res.end(JSON.stringify({ error: { message: `bad key ${echo}`, type: echo } }));
          return;
        }
        sseHeaders(res);
        if (plan.place === 'stream') res.end(`data: ${JSON.stringify({ error: { message: echo, type: 'server_error', code: echo, param: echo } })}\n\n`);
        else res.end(`data: {"broken": "${echo}\n\n`);
      });
      const url = server.url;
      await fc.assert(
        fc.asyncProperty(latin1Key, auth, fc.constantFrom('status', 'stream', 'malformed'), transform, fc.nat(), async (k, a, place, [, change], pick) => {
          const sent = sending(k, a);
          plan = {
            place,
            echo: (headerValue) => {
              const choices = [...sent.echoes, headerValue];
              return change(choices[pick % choices.length]!);
            },
          };
          const otel = startTelemetryHarness();
          try {
            const request = { baseURL: url, body, apiKey: sent.apiKey, headers: sent.headers, idleTimeout: 10_000 };
            await failureOf(
              fromChatCompletion(request).pipe(
                withTelemetry({ api: 'chat.completions', request, recordContent: true, retry: { maxRetries: 1, initialDelay: 0 }, tracer: otel.tracer, meter: otel.meter }),
              ),
            );
            const spans = otel.spans();
            expect(spans).toHaveLength(1);
            const output = JSON.stringify([spans.map((span) => [span.name, span.attributes, span.events, span.status, span.links]), await otel.metrics()]);
            expect(output).toContain('gen_ai.operation.name');
            expect(forbidden(k, a).filter((form) => output.includes(form))).toEqual([]);
          } finally {
            await otel.shutdown();
          }
        }),
        { numRuns: 40 },
      );
    }, 120_000);
  });
});
