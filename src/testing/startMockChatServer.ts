import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { anthropicFormat } from './renderAnthropic.js';
import { geminiFormat } from './renderGemini.js';
import { openAIFormat } from './renderOpenAI.js';
import { resolveScenario, type MockScenario, type ResolvedScenario } from './scenario.js';
import { frame, type WireFormat } from './wireFormat.js';

/** What the mock server saw of one request. */
export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. `/v1/chat/completions`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or the raw text when it is not JSON. */
  body: unknown;
  format: WireFormat['name'];
  /** `Date.now()` when the request arrived. */
  startedAt: number;
  /** The completion / message / response id streamed to it (new for every request). */
  id: string;
  /**
   * True when the client closed the connection before the server ended the
   * response (an abort, an idle timeout, an unsubscribe). The server's own
   * `drop` faults and `close()` do not count.
   */
  closedByClient: boolean;
  /** `Date.now()` when the response ended or the connection closed; unset while it is open. */
  endedAt?: number;
}

/** Options of {@link startMockChatServer}. */
export interface MockChatServerOptions {
  /** Default: 0 (a free port). */
  port?: number | undefined;
  /** Default: `'127.0.0.1'`. */
  host?: string | undefined;
  /**
   * When set, a request must carry this key (`Authorization: Bearer KEY`,
   * `api-key`, `x-api-key` or `x-goog-api-key`) or it gets a 401 with the
   * format's error body. Default: no key required.
   */
  apiKey?: string | undefined;
  /**
   * The scenario of each request, in arrival order (an array's last entry
   * repeats), or a function of the request's 0-based index. Default: `[{}]`.
   */
  script?: MockScenario[] | ((index: number, request: RecordedRequest) => MockScenario) | undefined;
  /** Defaults merged under every scripted scenario. Default: `{}`. */
  scenario?: MockScenario | undefined;
  /** Sends CORS headers and answers preflights, so browser pages on other ports can call it. Default: `true`. */
  cors?: boolean | undefined;
}

/** A running mock server. */
export interface MockChatServer {
  /** The origin, `http://127.0.0.1:PORT`; OpenAI's base URL is `${url}/v1`. */
  url: string;
  /** Every request so far (CORS preflights excluded). */
  requests: RecordedRequest[];
  /** Closes the server, destroys open connections and clears timers. */
  close(): Promise<void>;
}

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  // '*' does not cover Authorization in browsers, so it is named.
  'access-control-allow-headers': 'authorization, content-type, accept, api-key, x-api-key, x-goog-api-key, anthropic-version, *',
  'access-control-allow-methods': 'POST, OPTIONS',
  'access-control-expose-headers': 'retry-after, retry-after-ms',
};

/**
 * Starts a real HTTP server on 127.0.0.1 that speaks the OpenAI
 * (`POST /v1/chat/completions`), Anthropic (`POST /v1/messages`) and Gemini
 * (`POST /v1beta/models/{model}:streamGenerateContent?alt=sse`) streaming
 * protocols, injecting the faults its script asks for, and recording every
 * request.
 *
 * ```text
 * script:   [{ fault: drop after 3 }, { fault: status 429 }, {}]
 * request 1: --c1--c2--c3--X             (socket destroyed)
 * request 2: 429 + Retry-After
 * request 3: --c1--c2-- ... --[DONE]--|
 * ```
 *
 * @example
 * ```ts
 * const server = await startMockChatServer({
 *   script: [{ fault: { kind: 'drop', afterChunks: 5, atByte: 30 } }, {}],
 * });
 * const snapshot = await lastValueFrom(
 *   fromChatCompletion({ baseURL: `${server.url}/v1`, body: { model: 'm', messages: [] } })
 *     .pipe(untilDone(), accumulateContent(), retryWithBackoff()),
 * );
 * expect(snapshot.content).toBe(expectedOutput().content[0]);
 * expect(server.requests).toHaveLength(2);
 * await server.close();
 * ```
 */
export async function startMockChatServer(options: MockChatServerOptions = {}): Promise<MockChatServer> {
  const requests: RecordedRequest[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let closing = false;
  const cors = options.cors ?? true;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  // The dribble's 0 ms gap: one turn of the event loop, so each piece is its own write.
  const immediates = new Set<ReturnType<typeof setImmediate>>();
  const nextTurn = () =>
    new Promise<void>((resolve) => {
      const immediate = setImmediate(() => {
        immediates.delete(immediate);
        resolve();
      });
      immediates.add(immediate);
    });

  const server = createServer((request, response) => {
    if (cors) for (const [name, value] of Object.entries(CORS_HEADERS)) response.setHeader(name, value);
    if (request.method === 'OPTIONS' && cors) {
      response.writeHead(204).end();
      return;
    }
    readBody(request).then(
      (text) => handle(request, response, text),
      () => response.destroy(),
    );
  });

  function handle(request: IncomingMessage, response: ServerResponse, text: string): void {
    const path = request.url ?? '/';
    const format = formatOf(path);
    const body = parseJson(text);
    const recorded: RecordedRequest = {
      method: request.method ?? '',
      path,
      headers: request.headers,
      body,
      format: format?.name ?? 'openai',
      startedAt: Date.now(),
      id: (format ?? openAIFormat).responseId(requests.length + 1),
      closedByClient: false,
    };
    const index = requests.length;
    requests.push(recorded);
    response.on('close', () => {
      recorded.endedAt = Date.now();
      if (!response.writableEnded && !ownDrop.has(response) && !closing) recorded.closedByClient = true;
    });
    const reply = (status: number, message: string, extra: Record<string, string> = {}) =>
      sendJson(response, status, (format ?? openAIFormat).errorBody(status, message), extra);
    if (!format) return reply(404, `No route for ${path}.`);
    if (request.method !== 'POST') return reply(405, 'Only POST is supported.');
    if (options.apiKey !== undefined && !hasKey(request.headers, path, options.apiKey)) {
      return reply(401, 'Incorrect API key provided.');
    }
    if (typeof body !== 'object' || body === null || !(format.requiredField in body)) {
      return reply(400, `The request body must be a JSON object with "${format.requiredField}".`);
    }
    const scripted = pickScenario(options, index, recorded);
    const scenario = resolveScenario({ ...options.scenario, ...scripted });
    void stream(response, format, scenario, recorded.id);
  }

  const ownDrop = new WeakSet<ServerResponse>();

  async function stream(response: ServerResponse, format: WireFormat, scenario: ResolvedScenario, id: string): Promise<void> {
    const { fault } = scenario;
    if (fault?.kind === 'status') {
      const extra: Record<string, string> = {};
      if (fault.retryAfter !== undefined) extra['retry-after'] = String(fault.retryAfter);
      if (fault.retryAfterMs !== undefined) extra['retry-after-ms'] = String(fault.retryAfterMs);
      sendJson(response, fault.status, format.errorBody(fault.status, fault.message ?? `Mock status ${fault.status}.`), extra);
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    response.flushHeaders();
    const events = format.events(scenario, id).map((event) => Buffer.from(frame(event, scenario.lineEnding)));
    const stopAt = fault && 'afterChunks' in fault ? fault.afterChunks : events.length;
    const gone = () => closing || response.destroyed;
    const write = async (bytes: Buffer) => {
      const size = scenario.dribble > 0 ? scenario.dribble : bytes.length;
      for (let offset = 0; offset < bytes.length && !gone(); offset += size) {
        if (offset > 0) await nextTurn();
        if (!gone()) response.write(bytes.subarray(offset, offset + size));
      }
    };
    for (let i = 0; i < Math.min(stopAt, events.length); i++) {
      if (i > 0 && scenario.paceMs > 0) await pause(scenario.paceMs);
      if (scenario.keepAliveEvery > 0 && (i + 1) % scenario.keepAliveEvery === 0) await write(Buffer.from(`: keep-alive${scenario.lineEnding}${scenario.lineEnding}`));
      await write(events[i]!);
      if (gone()) return;
    }
    switch (fault?.kind) {
      case 'drop': {
        const next = events[stopAt];
        if (fault.atByte !== undefined && next) await write(next.subarray(0, cutOffset(next, fault.atByte)));
        await pause(5);
        ownDrop.add(response);
        response.socket?.destroy();
        return;
      }
      case 'stall':
      case 'holdOpen':
        return;
      case 'error':
        await write(Buffer.from(frame(format.inStreamError(fault.errorType, fault.message ?? 'The mock server had an error.'), scenario.lineEnding)));
        break;
      case 'malformed':
        await write(Buffer.from(frame({ data: fault.payload ?? '{"id": "broken", "choices": [' }, scenario.lineEnding)));
        break;
    }
    if (!gone()) response.end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        for (const immediate of immediates) clearImmediate(immediate);
        immediates.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function cutOffset(bytes: Buffer, atByte: number | 'midCharacter'): number {
  if (atByte !== 'midCharacter') return atByte;
  const lead = bytes.findIndex((byte) => byte >= 0xc0);
  return lead === -1 ? Math.floor(bytes.length / 2) : lead + 1;
}

function formatOf(path: string): WireFormat | undefined {
  const pathname = path.split('?')[0] ?? '';
  if (pathname.endsWith('/chat/completions')) return openAIFormat;
  if (pathname.endsWith('/messages')) return anthropicFormat;
  if (/\/models\/[^/]+:streamGenerateContent$/.test(pathname)) return geminiFormat;
  return undefined;
}

function pickScenario(options: MockChatServerOptions, index: number, request: RecordedRequest): MockScenario {
  const { script } = options;
  if (typeof script === 'function') return script(index, request);
  if (!script || script.length === 0) return {};
  return script[Math.min(index, script.length - 1)] ?? {};
}

function hasKey(headers: IncomingHttpHeaders, path: string, key: string): boolean {
  const query = new URLSearchParams(path.split('?')[1] ?? '');
  return [headers.authorization, headers['api-key'], headers['x-api-key'], headers['x-goog-api-key'], query.get('key')].some(
    (value) => value === key || value === `Bearer ${key}`,
  );
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
