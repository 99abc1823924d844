import { Observable, Subject, lastValueFrom, toArray } from 'rxjs';
import { fromHttpClient, type HttpClientLike, type HttpClientRequestOptions, type HttpEventLike, type HttpHeadersLike } from '../src/angular/index.js';
import { HTTP_EVENT_TYPE } from '../src/angular/fromHttpClient.js';
import { fromChatCompletion } from '../src/sources/fromChatCompletion.js';
import { untilDone } from '../src/operators/untilDone.js';
import { accumulateContent } from '../src/operators/accumulateContent.js';
import { retryWithBackoff } from '../src/operators/retryWithBackoff.js';
import { withStreamStatus } from '../src/operators/withStreamStatus.js';
import { HttpError, NetworkError } from '../src/errors.js';

/** Angular's `HttpHeaders`, as far as the adapter reads it. */
class FakeHeaders implements HttpHeadersLike {
  private readonly map = new Map<string, string[]>();
  constructor(init: Record<string, string | string[]> = {}) {
    for (const [name, value] of Object.entries(init)) this.map.set(name.toLowerCase(), Array.isArray(value) ? value : [value]);
  }
  keys(): string[] {
    return [...this.map.keys()];
  }
  get(name: string): string | null {
    return this.map.get(name.toLowerCase())?.[0] ?? null;
  }
  getAll(name: string): string[] | null {
    return this.map.get(name.toLowerCase()) ?? null;
  }
}

interface Call {
  method: string;
  url: string;
  options: HttpClientRequestOptions;
  events: Subject<HttpEventLike>;
  unsubscribed: boolean;
}

/** An in-memory `HttpClient`: each request gets a Subject the test drives, like Angular's FetchBackend would. */
function fakeHttpClient(onRequest?: (call: Call) => void): HttpClientLike & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    request(method, url, options) {
      return new Observable<HttpEventLike>((subscriber) => {
        const call: Call = { method, url, options, events: new Subject(), unsubscribed: false };
        calls.push(call);
        const subscription = call.events.subscribe(subscriber);
        subscriber.next({ type: HTTP_EVENT_TYPE.Sent });
        onRequest?.(call);
        return () => {
          call.unsubscribed = true;
          subscription.unsubscribe();
        };
      });
    },
  };
}

const SSE = { 'content-type': 'text/event-stream' };

/** What Angular emits for a streamed text response: the header, cumulative progress, the final response. */
function answer(call: Call, parts: string[], status = 200, headers: Record<string, string> = SSE): void {
  call.events.next({ type: HTTP_EVENT_TYPE.ResponseHeader, status, statusText: 'OK', headers: new FakeHeaders(headers) });
  let text = '';
  for (const part of parts) {
    text += part;
    call.events.next({ type: HTTP_EVENT_TYPE.DownloadProgress, partialText: text });
  }
  call.events.next({ type: HTTP_EVENT_TYPE.Response, status, statusText: 'OK', headers: new FakeHeaders(headers), body: text });
  call.events.complete();
}

/** An Angular `HttpErrorResponse`, as far as the adapter reads it. */
function httpErrorResponse(status: number, error: unknown, headers: Record<string, string> = {}) {
  return {
    name: 'HttpErrorResponse',
    status,
    statusText: status === 0 ? 'Unknown Error' : 'Error',
    headers: new FakeHeaders(headers),
    error,
    message: `Http failure response for http://x/: ${status}`,
  };
}

async function readAll(response: Response): Promise<string[]> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const pieces: string[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return pieces;
    pieces.push(decoder.decode(value, { stream: true }));
  }
}

function chunk(id: string, content: string): string {
  return `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] })}\n\n`;
}

const body = { model: 'm', messages: [{ role: 'user', content: 'Hi' }] } as const;

describe('fromHttpClient', () => {
  it('passes the request to HttpClient.request with observe events, progress and text', async () => {
    const http = fakeHttpClient((call) => answer(call, ['ok']));
    const fetch = fromHttpClient(http);
    const response = await fetch('http://api.test/v1/chat/completions', {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer k' },
    });
    expect(await response.text()).toBe('ok');
    expect(http.calls).toHaveLength(1);
    expect(http.calls[0]!.method).toBe('POST');
    expect(http.calls[0]!.url).toBe('http://api.test/v1/chat/completions');
    expect(http.calls[0]!.options).toEqual({
      body: '{"a":1}',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      observe: 'events',
      reportProgress: true,
      responseType: 'text',
    });
  });

  it('resolves at the header event and streams only the new text of each progress event', async () => {
    const http = fakeHttpClient();
    const pending = fromHttpClient(http)('http://api.test/x', { method: 'POST', body: '' });
    const call = http.calls[0]!;
    call.events.next({
      type: HTTP_EVENT_TYPE.ResponseHeader,
      status: 201,
      statusText: 'Created',
      headers: new FakeHeaders({ 'content-type': 'text/event-stream', 'x-multi': ['a', 'b'] }),
    });
    const response = await pending;
    expect(response.status).toBe(201);
    expect(response.statusText).toBe('Created');
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(response.headers.get('x-multi')).toBe('a, b');

    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    call.events.next({ type: HTTP_EVENT_TYPE.DownloadProgress, partialText: 'Hel' });
    expect(decoder.decode((await reader.read()).value)).toBe('Hel');
    call.events.next({ type: HTTP_EVENT_TYPE.DownloadProgress, partialText: 'Hello, wor' });
    expect(decoder.decode((await reader.read()).value)).toBe('lo, wor');
    call.events.next({ type: HTTP_EVENT_TYPE.Response, status: 201, body: 'Hello, world' });
    expect(decoder.decode((await reader.read()).value)).toBe('ld');
    expect((await reader.read()).done).toBe(true);
  });

  it('never splits a surrogate pair between two progress events', async () => {
    const http = fakeHttpClient((call) => {
      const text = 'a😀b';
      answer(call, [text.slice(0, 2), text.slice(2)]); // the first part ends inside the emoji
    });
    const response = await fromHttpClient(http)('http://api.test/x', {});
    const pieces = await readAll(response);
    expect(pieces.join('')).toBe('a😀b');
    expect(pieces).toEqual(['a', '😀b']);
  });

  it('turns an HttpErrorResponse with a status into a Response with that status, headers and body', async () => {
    const http = fakeHttpClient((call) =>
      call.events.error(httpErrorResponse(429, '{"error":{"message":"Slow down"}}', { 'retry-after': '7' })),
    );
    const response = await fromHttpClient(http)('http://api.test/x', { method: 'POST' });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('7');
    expect(await response.text()).toBe('{"error":{"message":"Slow down"}}');
  });

  it('serialises a parsed JSON error body', async () => {
    const http = fakeHttpClient((call) => call.events.error(httpErrorResponse(400, { error: { message: 'Bad' } })));
    const response = await fromHttpClient(http)('http://api.test/x', {});
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: { message: 'Bad' } });
  });

  it('keeps an error body already streamed by progress events without repeating it', async () => {
    const http = fakeHttpClient((call) => {
      call.events.next({ type: HTTP_EVENT_TYPE.ResponseHeader, status: 503, headers: new FakeHeaders() });
      call.events.next({ type: HTTP_EVENT_TYPE.DownloadProgress, partialText: 'busy, ' });
      call.events.error(httpErrorResponse(503, 'busy, retry'));
    });
    const response = await fromHttpClient(http)('http://api.test/x', {});
    expect(response.status).toBe(503);
    expect(await response.text()).toBe('busy, retry');
  });

  it('rejects on status 0 before any response, with the HttpErrorResponse as the cause', async () => {
    const failure = httpErrorResponse(0, new Event('error'));
    const http = fakeHttpClient((call) => call.events.error(failure));
    const pending = fromHttpClient(http)('http://api.test/x', {});
    await expect(pending).rejects.toThrow(TypeError);
    await expect(pending).rejects.toMatchObject({ cause: failure, message: failure.message });
  });

  it('passes on the error fetch raised when Angular wraps one', async () => {
    const inner = new TypeError('network error');
    const http = fakeHttpClient((call) => call.events.error({ ...httpErrorResponse(0, inner), message: 'Http failure response for (unknown url): undefined undefined' }));
    await expect(fromHttpClient(http)('http://api.test/x', {})).rejects.toBe(inner);
  });

  it('errors the body on status 0 after the response started', async () => {
    const http = fakeHttpClient();
    const pending = fromHttpClient(http)('http://api.test/x', {});
    const call = http.calls[0]!;
    call.events.next({ type: HTTP_EVENT_TYPE.ResponseHeader, status: 200, headers: new FakeHeaders(SSE) });
    const response = await pending;
    const reader = response.body!.getReader();
    call.events.next({ type: HTTP_EVENT_TYPE.DownloadProgress, partialText: 'part' });
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('part');
    call.events.error(httpErrorResponse(0, new TypeError('network error')));
    await expect(reader.read()).rejects.toThrow('network error');
  });

  it('unsubscribes from HttpClient when the signal aborts, before and after the response', async () => {
    const http = fakeHttpClient();
    const before = new AbortController();
    const pending = fromHttpClient(http)('http://api.test/x', { signal: before.signal });
    expect(http.calls[0]!.unsubscribed).toBe(false);
    before.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(http.calls[0]!.unsubscribed).toBe(true);

    const after = new AbortController();
    const started = fromHttpClient(http)('http://api.test/x', { signal: after.signal });
    http.calls[1]!.events.next({ type: HTTP_EVENT_TYPE.ResponseHeader, status: 200, headers: new FakeHeaders(SSE) });
    const reader = (await started).body!.getReader();
    const read = reader.read();
    after.abort();
    await expect(read).rejects.toMatchObject({ name: 'AbortError' });
    expect(http.calls[1]!.unsubscribed).toBe(true);
  });

  it('does not call HttpClient when the signal is already aborted', async () => {
    const http = fakeHttpClient();
    const controller = new AbortController();
    controller.abort();
    await expect(fromHttpClient(http)('http://api.test/x', { signal: controller.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(http.calls).toHaveLength(0);
  });

  it('unsubscribes when the body is cancelled', async () => {
    const http = fakeHttpClient();
    const pending = fromHttpClient(http)('http://api.test/x', {});
    http.calls[0]!.events.next({ type: HTTP_EVENT_TYPE.ResponseHeader, status: 200, headers: new FakeHeaders(SSE) });
    await (await pending).body!.cancel();
    expect(http.calls[0]!.unsubscribed).toBe(true);
  });

  describe('in the pipeline', () => {
    it('streams a chat completion through HttpClient, split mid-line and mid-character', async () => {
      const wire = chunk('c1', 'Grüße ') + chunk('c1', '🌍 world') + 'data: [DONE]\n\n';
      const cut = [5, 40, 71, wire.indexOf('🌍') + 1, wire.length - 3];
      const parts = [0, ...cut].map((start, i) => wire.slice(start, [...cut, wire.length][i]));
      const http = fakeHttpClient((call) => answer(call, parts));
      const snapshots = await lastValueFrom(
        fromChatCompletion({ baseURL: 'http://api.test/v1', apiKey: 'sk-secret', fetch: fromHttpClient(http), body }).pipe(
          untilDone(),
          accumulateContent(),
          toArray(),
        ),
      );
      expect(snapshots.map((s) => s.content)).toEqual(['Grüße ', 'Grüße 🌍 world']);
      expect(http.calls[0]!.url).toBe('http://api.test/v1/chat/completions');
      expect(JSON.parse(http.calls[0]!.options.body!)).toEqual({ ...body, stream: true });
      expect(http.calls[0]!.options.headers.authorization).toBe('Bearer sk-secret');
    });

    it('raises HttpError with retryAfterMs and the provider message for an error status', async () => {
      const http = fakeHttpClient((call) =>
        call.events.error(httpErrorResponse(429, '{"error":{"message":"Rate limit reached"}}', { 'retry-after': '3' })),
      );
      const error = await lastValueFrom(fromChatCompletion({ baseURL: 'http://api.test/v1', fetch: fromHttpClient(http), body })).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(HttpError);
      expect(error).toMatchObject({ status: 429, retryAfterMs: 3000, retryable: true });
      expect((error as Error).message).toContain('Rate limit reached');
    });

    it('raises NetworkError for status 0', async () => {
      const http = fakeHttpClient((call) => call.events.error(httpErrorResponse(0, null)));
      const error = await lastValueFrom(fromChatCompletion({ baseURL: 'http://api.test/v1', fetch: fromHttpClient(http), body })).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(NetworkError);
    });

    it('retries a connection cut mid-stream and ends with the exact text, once', async () => {
      const http = fakeHttpClient((call) => {
        if (http.calls.length === 1) {
          call.events.next({ type: HTTP_EVENT_TYPE.ResponseHeader, status: 200, headers: new FakeHeaders(SSE) });
          call.events.next({ type: HTTP_EVENT_TYPE.DownloadProgress, partialText: chunk('a1', 'Hello') + chunk('a1', ', wo') });
          call.events.error(httpErrorResponse(0, new Error('reset')));
        } else {
          answer(call, [chunk('a2', 'Hello'), chunk('a2', ', world') + 'data: [DONE]\n\n']);
        }
      });
      const states = await lastValueFrom(
        fromChatCompletion({ baseURL: 'http://api.test/v1', fetch: fromHttpClient(http), body }).pipe(
          untilDone(),
          accumulateContent(),
          withStreamStatus({ retry: { initialDelay: 1, jitter: 'none', maxRetries: 2 } }),
          toArray(),
        ),
      );
      const last = states[states.length - 1]!;
      expect(last.status).toBe('done');
      expect(last.snapshot?.content).toBe('Hello, world');
      expect(last.attempt).toBe(2);
      expect(states.some((s) => s.status === 'retrying' && s.error instanceof NetworkError)).toBe(true);
      expect(http.calls).toHaveLength(2);
      expect(http.calls.every((c) => c.unsubscribed)).toBe(true);
    });

    it('aborts the HttpClient request when the pipeline is unsubscribed', async () => {
      const http = fakeHttpClient((call) => {
        call.events.next({ type: HTTP_EVENT_TYPE.ResponseHeader, status: 200, headers: new FakeHeaders(SSE) });
        call.events.next({ type: HTTP_EVENT_TYPE.DownloadProgress, partialText: chunk('s1', 'Hi') });
      });
      const first = await new Promise<string>((resolve) => {
        const subscription = fromChatCompletion({ baseURL: 'http://api.test/v1', fetch: fromHttpClient(http), body })
          .pipe(untilDone(), accumulateContent(), retryWithBackoff())
          .subscribe((snapshot) => {
            resolve(snapshot.content);
            queueMicrotask(() => subscription.unsubscribe());
          });
      });
      expect(first).toBe('Hi');
      // The abort comes once what had already arrived is read (fetchBytes drains until the next macrotask).
      for (let i = 0; i < 200 && !http.calls[0]?.unsubscribed; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(http.calls).toHaveLength(1);
      expect(http.calls[0]!.unsubscribed).toBe(true);
    });
  });
});

/**
 * Counts the characters of every string read through `String.prototype` methods
 * and `TextEncoder` while `run` runs. A read of any character of a string that
 * was grown with `+=` (a rope) makes V8 copy the whole string, so each read
 * costs the string's whole length: that is what is counted.
 */
function countingStringReads(): { readonly characters: number; stop(): void } {
  const methods = [
    'at', 'charAt', 'charCodeAt', 'codePointAt', 'endsWith', 'includes', 'indexOf', 'lastIndexOf', 'localeCompare',
    'match', 'matchAll', 'normalize', 'padEnd', 'padStart', 'replace', 'replaceAll', 'search', 'slice', 'split',
    'startsWith', 'substr', 'substring', 'toLowerCase', 'toUpperCase', 'trim', 'trimEnd', 'trimStart',
  ] as const;
  const proto = String.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const saved = new Map<string, (...args: unknown[]) => unknown>();
  const counter = { characters: 0, stop: () => undefined as void };
  for (const name of methods) {
    const original = proto[name]!;
    saved.set(name, original);
    proto[name] = function (this: string, ...args: unknown[]) {
      counter.characters += this.length;
      return original.apply(this, args);
    };
  }
  const encode = TextEncoder.prototype.encode;
  TextEncoder.prototype.encode = function (this: TextEncoder, input?: string) {
    counter.characters += input?.length ?? 0;
    return encode.call(this, input);
  };
  counter.stop = () => {
    for (const [name, original] of saved) proto[name] = original;
    TextEncoder.prototype.encode = encode;
  };
  return counter;
}

describe('fromHttpClient on long answers', () => {
  const MiB = 1024 * 1024;

  it('reads a 1 MB answer in 16-character progress events with linear copying (Angular grows partialText with +=)', async () => {
    const piece = 16;
    const pieces = MiB / piece;
    // Reading the text at every event copies 16 + 32 + … + 1 MiB characters (about 34 G): quadratic.
    // Linear: a few times the answer, plus reading the short start at every event.
    const budget = (emitted: number) => 12 * emitted + (8 * 1024) ** 2 / piece + MiB;
    let counter: ReturnType<typeof countingStringReads> | undefined;
    const http = fakeHttpClient((call) => {
      call.events.next({ type: HTTP_EVENT_TYPE.ResponseHeader, status: 200, statusText: 'OK', headers: new FakeHeaders({ 'content-type': 'text/plain' }) });
      let text = '';
      counter = countingStringReads();
      try {
        for (let i = 0; i < pieces; i++) {
          // Like Angular's FetchBackend: partialText = partialText + decoder.decode(chunk).
          text = text + String.fromCharCode(97 + (i % 26)).repeat(piece - 1) + '\n';
          call.events.next({ type: HTTP_EVENT_TYPE.DownloadProgress, partialText: text });
          if (counter.characters > budget(text.length)) {
            throw new Error(`read ${counter.characters} characters for ${text.length} received: quadratic`);
          }
        }
        call.events.next({ type: HTTP_EVENT_TYPE.Response, status: 200, statusText: 'OK', headers: new FakeHeaders(), body: text });
      } finally {
        counter.stop();
      }
      call.events.complete();
    });
    const response = await fromHttpClient(http)('http://api.test/long', { method: 'GET' });
    const received = (await readAll(response)).join('');
    expect(counter!.characters).toBeLessThanOrEqual(budget(MiB));
    expect(received.length).toBe(MiB);
    expect(received.slice(0, 32)).toBe(`${'a'.repeat(15)}\n${'b'.repeat(15)}\n`);
    expect(received.slice(-16)).toBe(`${String.fromCharCode(97 + ((pieces - 1) % 26)).repeat(15)}\n`);
  }, 120_000);

  it('delivers a little more text on a long answer after a short wait, without another event', async () => {
    let call: Call | undefined;
    const http = fakeHttpClient((c) => (call = c));
    const response = await new Promise<Response>((resolve, reject) => {
      fromHttpClient(http)('http://api.test/long', { method: 'GET' }).then(resolve, reject);
      call!.events.next({ type: HTTP_EVENT_TYPE.ResponseHeader, status: 200, statusText: 'OK', headers: new FakeHeaders() });
    });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    const long = 'x'.repeat(200_000);
    call!.events.next({ type: HTTP_EVENT_TYPE.DownloadProgress, partialText: long });
    expect(decoder.decode((await reader.read()).value).length).toBe(200_000);
    // 10 more characters: less than an eighth of the text, read after the wait, with no further event.
    const counter = countingStringReads();
    try {
      call!.events.next({ type: HTTP_EVENT_TYPE.DownloadProgress, partialText: long + 'tail-text!' });
      expect(counter.characters).toBe(0);
    } finally {
      counter.stop();
    }
    expect(decoder.decode((await reader.read()).value)).toBe('tail-text!');
    // Text still waiting when the response ends without a string body is not lost.
    call!.events.next({ type: HTTP_EVENT_TYPE.DownloadProgress, partialText: long + 'tail-text!' + 'end' });
    call!.events.next({ type: HTTP_EVENT_TYPE.Response, status: 200, statusText: 'OK', headers: new FakeHeaders(), body: null });
    expect(decoder.decode((await reader.read()).value)).toBe('end');
    expect((await reader.read()).done).toBe(true);
  }, 60_000);
});
