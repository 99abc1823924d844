import type { Attributes } from '@opentelemetry/api';
import { DEFAULT_ANTHROPIC_BASE_URL } from '../sources/fromAnthropicMessages.js';
import { DEFAULT_BASE_URL } from '../sources/fromChatCompletion.js';
import { DEFAULT_GEMINI_BASE_URL } from '../sources/fromGeminiContent.js';
import { ATTR, VALUE } from './conventions.js';

/** The four APIs whose answers `withTelemetry` names after the GenAI conventions. */
export type TelemetryApi = 'chat.completions' | 'responses' | 'anthropic.messages' | 'gemini';

/**
 * What `withTelemetry` reads of the request: the options given to the source
 * (it reads `baseURL`, `url`, `model` and `body` only; never `apiKey` nor
 * `headers`), or just these fields.
 */
export interface TelemetryRequest {
  baseURL?: string | undefined;
  url?: string | undefined;
  /** Gemini's model (the other APIs carry it in `body.model`). */
  model?: string | undefined;
  /** The request body: `model`, and with `recordContent` the prompt (`messages`, `input`, `system`, `contents`). */
  body?: object | undefined;
}

const API: Record<TelemetryApi, { operation: string; provider: string; baseURL: string }> = {
  'chat.completions': { operation: VALUE.chat, provider: VALUE.openai, baseURL: DEFAULT_BASE_URL },
  responses: { operation: VALUE.chat, provider: VALUE.openai, baseURL: DEFAULT_BASE_URL },
  'anthropic.messages': { operation: VALUE.chat, provider: VALUE.anthropic, baseURL: DEFAULT_ANTHROPIC_BASE_URL },
  gemini: { operation: VALUE.generateContent, provider: VALUE.gcpGemini, baseURL: DEFAULT_GEMINI_BASE_URL },
};

export function isTelemetryApi(value: unknown): value is TelemetryApi {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(API, value);
}

/** The span name and the attributes known before the request: operation, provider, model, server. */
export function requestAttributes(api: TelemetryApi, request: TelemetryRequest, provider: string | undefined): { name: string; attributes: Attributes } {
  const known = API[api];
  const attributes: Attributes = {
    [ATTR.operationName]: known.operation,
    [ATTR.providerName]: provider ?? known.provider,
    [ATTR.requestStream]: true,
  };
  const model = requestModel(api, request);
  if (model !== undefined) attributes[ATTR.requestModel] = model;
  const server = serverOf(typeof request.url === 'string' ? request.url : typeof request.baseURL === 'string' ? request.baseURL : known.baseURL);
  if (server !== undefined) {
    attributes[ATTR.serverAddress] = server.address;
    attributes[ATTR.serverPort] = server.port;
  }
  return { name: model === undefined ? known.operation : `${known.operation} ${model}`, attributes };
}

/** The prompt as the request carries it, as JSON, for `gen_ai.input.messages` (only with `recordContent`). */
export function requestContent(api: TelemetryApi, request: TelemetryRequest): string | undefined {
  const body = (request.body ?? {}) as Record<string, unknown>;
  const own = (key: string) => (Object.prototype.hasOwnProperty.call(body, key) ? body[key] : undefined);
  const content =
    api === 'responses' ? own('input') : api === 'gemini' ? own('contents') : api === 'anthropic.messages' ? own('messages') : own('messages');
  if (content === undefined) return undefined;
  const messages = typeof content === 'string' ? [{ role: 'user', parts: [{ type: 'text', content }] }] : content;
  try {
    return JSON.stringify(messages);
  } catch {
    return undefined;
  }
}

function requestModel(api: TelemetryApi, request: TelemetryRequest): string | undefined {
  if (api === 'gemini') {
    const model = typeof request.model === 'string' ? request.model.trim().replace(/^models\//, '') : undefined;
    if (model) return model;
    const fromUrl = typeof request.url === 'string' ? /\/models\/([^/:?]+)/.exec(request.url)?.[1] : undefined;
    return fromUrl ? decodeURIComponent(fromUrl) : undefined;
  }
  const body = request.body as { model?: unknown } | undefined;
  const model = body !== undefined && Object.prototype.hasOwnProperty.call(body, 'model') ? body.model : undefined;
  return typeof model === 'string' && model !== '' ? model : undefined;
}

/** Host and port of a URL; userinfo, path and query are never read. */
function serverOf(url: string): { address: string; port: number } | undefined {
  try {
    const parsed = new URL(url);
    const port = parsed.port !== '' ? Number(parsed.port) : parsed.protocol === 'http:' ? 80 : 443;
    return { address: parsed.hostname, port };
  } catch {
    return undefined;
  }
}
