import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { anthropicFormat } from './renderAnthropic.js';
import { geminiFormat } from './renderGemini.js';
import { openAIFormat } from './renderOpenAI.js';
import { responsesFormat } from './renderResponses.js';
import { createResponsesStore, freshPlan, type StreamPlan } from './responsesStore.js';
import { resolveScenario, type MockScenario, type ResolvedScenario } from './scenario.js';
import { frame, type WireFormat } from './wireFormat.js';

/** What the mock server saw of one request. */
export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. `/v1/chat/completions`. */
  path: string;
  headers: IncomingHttpHeaders;
  /**
   * The parsed JSON body, or the raw text when it is not JSON; `undefined`
   * when the request was refused before its body was read (unknown route,
   * wrong method, missing key, body over `maxBodyBytes`).
   */
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
  /**
   * The largest request body read, in bytes. A longer one (by its
   * `Content-Length`, or once that many bytes arrived) gets a 413 and its
   * connection is closed. Default: 1 MiB.
   */
  maxBodyBytes?: number | undefined;
  /**
   * Where the APIs are served. By default only under the providers' own
   * versions: `/v1/chat/completions`, `/v1/responses`, `/v1/messages`, and
   * Gemini's `/v1beta/models/{model}:streamGenerateContent` (or `/v1/...`),
   * so a test whose `baseURL` lacks the `/v1` gets a 404 that says so, as it
   * would from the provider. Give other prefixes for a gateway or an app that
   * mounts the API elsewhere: `basePaths: ['/api/openai/v1']` serves every
   * format under each of them (`''` for the root). Default: the providers' own.
   */
  basePaths?: readonly string[] | undefined;
}

/** The default of {@link MockChatServerOptions.maxBodyBytes}. */
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** A running mock server. */
export interface MockChatServer {
  /** The origin, `http://127.0.0.1:PORT`; OpenAI's base URL is `${url}/v1`. */
  url: string;
  /** Every request so far (CORS preflights excluded). */
  requests: RecordedRequest[];
  /**
   * Tokens (content, reasoning and argument fragments) generated so far over
   * all requests: a restarted request generates its answer again, a resumed
   * background Responses API stream replays what was generated without
   * counting it.
   */
  readonly generatedTokens: number;
  /** Closes the server, destroys open connections and clears timers. */
  close(): Promise<void>;
}

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  // '*' does not cover Authorization in browsers, so it is named.
  'access-control-allow-headers': 'authorization, content-type, accept, api-key, x-api-key, x-goog-api-key, anthropic-version, *',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
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
  let generatedTokens = 0;
  const countGenerated = (tokens: number) => {
    generatedTokens += tokens;
  };
  const responses = createResponsesStore(countGenerated);
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let closing = false;
  const cors = options.cors ?? true;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const basePaths = checkBasePaths(options.basePaths);
  if (typeof maxBodyBytes !== 'number' || !(maxBodyBytes >= 1)) {
    throw new RangeError('startMockChatServer: options.maxBodyBytes must be a number of bytes, 1 or more (Infinity allowed).');
  }
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
    handle(request, response);
  });

  /**
   * Route, method, key and declared size are checked before a byte of the
   * body is read, so an unauthorised or oversized request costs nothing;
   * the body is then read up to `maxBodyBytes`.
   */
  function handle(request: IncomingMessage, response: ServerResponse): void {
    const path = request.url ?? '/';
    const format = formatOf(path, basePaths);
    const recorded: RecordedRequest = {
      method: request.method ?? '',
      path,
      headers: request.headers,
      body: undefined,
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
    const refuse = (status: number, message: string) => {
      reply(status, message);
      discardThenClose(request, maxBodyBytes);
    };
    if (!format) return refuse(404, noRouteMessage(path, basePaths));
    // The Responses API's GET (retrieve, resume) and cancel routes, on responses the server keeps.
    const onStoredResponse = format === responsesFormat && /\/responses\/[^/]+/.test(path.split('?')[0] ?? '');
    if (request.method !== 'POST' && !onStoredResponse) return refuse(405, 'Only POST is supported.');
    if (options.apiKey !== undefined && !hasKey(request.headers, path, options.apiKey)) {
      return refuse(401, 'Incorrect API key provided.');
    }
    const route = onStoredResponse ? responses.route(recorded.method, path) : undefined;
    if (route?.kind === 'json') {
      request.resume();
      return sendJson(response, route.status, route.body, {});
    }
    if (route?.kind === 'stream') {
      request.resume();
      recorded.id = route.id;
      void stream(response, format, resolveScenario({ ...options.scenario, ...pickScenario(options, index, recorded) }), route.plan);
      return;
    }
    const tooLarge = `The request body is larger than ${maxBodyBytes} bytes.`;
    if (Number(request.headers['content-length'] ?? 0) > maxBodyBytes) return refuse(413, tooLarge);
    readBody(request, maxBodyBytes).then(
      (text) => {
        if (text === undefined) return refuse(413, tooLarge);
        recorded.body = parseJson(text);
        answer(response, format, recorded, index, reply);
      },
      () => response.destroy(),
    );
  }

  function answer(
    response: ServerResponse,
    format: WireFormat,
    recorded: RecordedRequest,
    index: number,
    reply: (status: number, message: string) => void,
  ): void {
    const { body } = recorded;
    if (typeof body !== 'object' || body === null || !(format.requiredField in body)) {
      return reply(400, `The request body must be a JSON object with "${format.requiredField}".`);
    }
    const scripted = pickScenario(options, index, recorded);
    const scenario = resolveScenario({ ...options.scenario, ...scripted });
    const events = format.events(scenario, recorded.id);
    const background = format === responsesFormat && (body as { background?: unknown }).background === true;
    void stream(response, format, scenario, format === responsesFormat ? responses.create(recorded.id, events, background) : freshPlan(events, countGenerated));
  }

  const ownDrop = new WeakSet<ServerResponse>();

  async function stream(response: ServerResponse, format: WireFormat, scenario: ResolvedScenario, plan: StreamPlan): Promise<void> {
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
    const events = plan.events.map((event) => Buffer.from(frame(event, scenario.lineEnding)));
    const stopAt = fault && 'afterChunks' in fault ? fault.afterChunks : events.length;
    const cancelled = () => plan.cancelled?.() === true;
    const gone = () => closing || response.destroyed || cancelled();
    const keepAlive = format.keepAlive ? frame(format.keepAlive(), scenario.lineEnding) : `: keep-alive${scenario.lineEnding}${scenario.lineEnding}`;
    const write = async (bytes: Buffer) => {
      const size = scenario.dribble > 0 ? scenario.dribble : bytes.length;
      for (let offset = 0; offset < bytes.length && !gone(); offset += size) {
        if (offset > 0) await nextTurn();
        if (!gone()) response.write(bytes.subarray(offset, offset + size));
      }
    };
    for (let i = 0; i < Math.min(stopAt, events.length); i++) {
      if (i > 0 && scenario.paceMs > 0) await pause(scenario.paceMs);
      if (scenario.keepAliveEvery > 0 && (i + 1) % scenario.keepAliveEvery === 0) await write(Buffer.from(keepAlive));
      if (!gone()) {
        plan.beforeWrite(i);
        await write(events[i]!);
      }
      if (gone()) {
        // A cancelled background response stops generating; its stream ends without a terminal event.
        if (cancelled() && !closing && !response.destroyed) response.end();
        return;
      }
    }
    switch (fault?.kind) {
      case 'drop': {
        const next = events[stopAt];
        if (fault.atByte !== undefined && next) {
          plan.beforeWrite(stopAt);
          await write(next.subarray(0, cutOffset(next, fault.atByte)));
        }
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
    get generatedTokens() {
      return generatedTokens;
    },
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

/** The routes of each format, after its base path. */
const ROUTES: ReadonlyArray<readonly [RegExp, WireFormat]> = [
  [/^\/chat\/completions$/, openAIFormat],
  [/^\/messages$/, anthropicFormat],
  [/^\/models\/[^/]+:streamGenerateContent$/, geminiFormat],
  [/^\/responses(\/[^/]+(\/cancel)?)?$/, responsesFormat],
];

/** The providers' own base paths, by format (the default of `basePaths`). */
const PROVIDER_BASE_PATHS = new Map<WireFormat, readonly string[]>([
  [openAIFormat, ['/v1']],
  [anthropicFormat, ['/v1']],
  [geminiFormat, ['/v1beta', '/v1']],
  [responsesFormat, ['/v1']],
]);

function checkBasePaths(basePaths: readonly string[] | undefined): readonly string[] | undefined {
  if (basePaths === undefined) return undefined;
  if (!Array.isArray(basePaths) || basePaths.some((base) => typeof base !== 'string' || !(base === '' || /^\/[^?#]*[^/?#]$/.test(base)))) {
    throw new TypeError("startMockChatServer: options.basePaths must be an array of paths such as '/v1' or '/api/openai/v1' ('' for the root; no trailing slash).");
  }
  return basePaths;
}

function formatOf(path: string, basePaths: readonly string[] | undefined): WireFormat | undefined {
  const pathname = path.split('?')[0] ?? '';
  for (const [route, format] of ROUTES) {
    for (const base of basePaths ?? PROVIDER_BASE_PATHS.get(format) ?? []) {
      if (pathname.startsWith(base) && route.test(pathname.slice(base.length))) return format;
    }
  }
  return undefined;
}

/** A 404's message: what was asked, what is served, and the usual cause (a `baseURL` without `/v1`). */
function noRouteMessage(path: string, basePaths: readonly string[] | undefined): string {
  const pathname = (path.split('?')[0] ?? '').slice(0, 200);
  const served = basePaths
    ? `every API under ${basePaths.map((base) => `'${base}'`).join(', ')}`
    : 'POST /v1/chat/completions, /v1/responses, /v1/messages and /v1beta/models/{model}:streamGenerateContent';
  const hint = /(\/chat\/completions|\/messages|\/responses(\/[^/]+(\/cancel)?)?|:streamGenerateContent)$/.test(pathname)
    ? ' Check the base URL: OpenAI-style base URLs end in /v1 (the mock’s url + /v1); the mock option basePaths serves other prefixes.'
    : '';
  return `No route for ${pathname}: this mock server serves ${served}.${hint}`;
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

/** The body as text, or `undefined` as soon as more than `maxBytes` arrived (the rest is left unread). */
function readBody(request: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        request.off('data', onData);
        request.pause();
        chunks.length = 0;
        resolve(undefined);
      } else chunks.push(chunk);
    };
    request.on('data', onData);
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/**
 * After a refusal: reads and drops what the client still sends, so it sees
 * the answer rather than a reset, but closes the connection once more than
 * `maxBytes` arrived.
 */
function discardThenClose(request: IncomingMessage, maxBytes: number): void {
  let discarded = 0;
  request.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > maxBytes) request.socket.destroy();
  });
  request.resume();
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
