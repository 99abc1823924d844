import { lastValueFrom, toArray } from 'rxjs';
import { accumulateContent, fromChatCompletion, fromGeminiContent, HttpError, isRetryable, untilDone } from '../src/index.js';
import { CROSS_ORIGIN_HEADERS, redirectTarget } from '../src/transport/redirects';
import { serveEachTest } from './support/serveEachTest';

const KEY = 'sk-redirect-secret-4242';
const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] } as const;
const SSE = { 'content-type': 'text/event-stream' };
const answer = `data: ${JSON.stringify({ id: 'c1', choices: [{ index: 0, delta: { content: 'from B' }, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`;

/** Every place a key could hide in an error. */
function everything(error: unknown): string {
  const parts: string[] = [];
  for (let current = error, depth = 0; current && depth < 10; current = (current as { cause?: unknown }).cause, depth++) {
    const e = current as Error;
    parts.push(String(e), e.message ?? '', e.stack ?? '', JSON.stringify(Object.entries(e)));
  }
  return parts.join('\n');
}

describe('redirects and credentials', () => {
  const serve = serveEachTest();

  /** A server that answers every request with a 307 to `location`. */
  const redirectTo = (location: string) =>
    serve((_request, response) => {
      response.writeHead(307, { location });
      response.end();
    });

  it('only allowlisted headers go to another origin: X-Credential, X-Session-Id, OpenAI-Organization and cookies stay behind', async () => {
    const target = await serve((_request, response) => {
      response.writeHead(200, SSE);
      response.end(answer);
    });
    const front = await redirectTo(`${target.url}/v1/chat/completions`);
    const headers = { 'X-Credential': 'c-1', 'X-Session-Id': 's-1', 'OpenAI-Organization': 'org-1', Cookie: 'a=b', 'OpenAI-Beta': 'assistants=v2' };
    const snapshot = await lastValueFrom(fromChatCompletion({ baseURL: front.url, apiKey: KEY, headers, body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.content).toBe('from B');
    expect(front.requests[0]!.headers['x-credential']).toBe('c-1');
    const sent = target.requests[0]!.headers;
    for (const name of ['authorization', 'x-credential', 'x-session-id', 'openai-organization', 'cookie']) expect(sent[name]).toBeUndefined();
    expect(sent['content-type']).toBe('application/json');
    expect(sent.accept).toBe('text/event-stream');
    expect(sent['openai-beta']).toBe('assistants=v2');
  });

  it('the allowlist holds no credential-looking name', () => {
    for (const name of CROSS_ORIGIN_HEADERS) expect(name).not.toMatch(/auth|key|token|secret|cookie|password|signature|session|credential/);
  });

  it.each(['data:text/event-stream,data: [DONE]%0A%0A', 'file:///etc/passwd', 'ftp://127.0.0.1/x'])('a 307 to %s is a non-retryable HttpError; nothing is fetched there', async (location) => {
    const front = await redirectTo(location);
    const error = await lastValueFrom(fromChatCompletion({ baseURL: front.url, apiKey: KEY, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(307);
    expect((error as Error).message).toMatch(/only http\(s\) redirects are followed/);
    expect(isRetryable(error)).toBe(false);
    expect(front.requests).toHaveLength(1);
  });

  it('an invalid Location (http://[…) is a typed HttpError whose fields never hold the request URL and its key', async () => {
    const front = await redirectTo('http://[::1');
    const url = `${'PLACEHOLDER'}/v1beta/models/m:streamGenerateContent?alt=sse&key=${KEY}`;
    const error = await lastValueFrom(fromGeminiContent({ url: url.replace('PLACEHOLDER', front.url), apiKey: KEY, body: { contents: [] } }).pipe(toArray())).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HttpError);
    expect((error as Error).name).toBe('HttpError');
    expect((error as Error).message).toMatch(/Location header that is not a valid URL/);
    expect(isRetryable(error)).toBe(false);
    expect(everything(error)).not.toContain(KEY);
    expect(everything(error)).not.toContain('key=');
  });

  it('an https → http downgrade is refused (the prompt would travel in cleartext), same host or not', () => {
    const context = { source: 'fromChatCompletion', secrets: [KEY] };
    expect(() => redirectTarget(context, 'https://api.example.com/v1/chat/completions', 307, 'http://api.example.com/v1/chat/completions')).toThrow(/from https to http/);
    expect(() => redirectTarget(context, 'https://api.example.com/v1', 308, 'http://elsewhere.example/v1')).toThrow(HttpError);
    expect(redirectTarget(context, 'http://api.example.com/v1', 307, 'https://api.example.com/v2').href).toBe('https://api.example.com/v2');
    expect(redirectTarget(context, 'https://api.example.com/v1', 307, '/v2').href).toBe('https://api.example.com/v2');
  });

  it('the HTTP reason phrase is server-supplied: it is redacted and stripped of control characters', async () => {
    const front = await serve((_request, response) => {
      // Node's writeHead refuses control characters in a reason phrase; a hostile server need not.
      response.socket!.end(`HTTP/1.1 401 Invalid key ${KEY}\x1b[2J\x07\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
    });
    const error = await lastValueFrom(fromChatCompletion({ baseURL: front.url, apiKey: KEY, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(401);
    expect((error as Error).message).toMatch(/^fromChatCompletion: HTTP 401 Invalid key/);
    expect(everything(error)).not.toContain(KEY);
    expect((error as Error).message).not.toContain('\x1b');
  });
});
