import type { SseEvent } from './wireFormat.js';

/** What the mock server streams for one request, and what happens as each event goes out. */
export interface StreamPlan {
  events: SseEvent[];
  /** Called before event `i` of `events` is written (its first byte). */
  beforeWrite(i: number): void;
  /** True once the response was cancelled: the server stops streaming it. */
  cancelled?(): boolean;
}

/** A background response the mock keeps, so it can be resumed and cancelled. */
interface StoredResponse {
  id: string;
  events: SseEvent[];
  /** How many of `events` were generated (written once to some client); a replay of these generates nothing. */
  generated: number;
  cancelled: boolean;
}

/** What the server does for a Responses API request other than `POST /responses`. */
export type ResponsesRoute =
  | { kind: 'json'; status: number; body: unknown }
  | { kind: 'stream'; id: string; plan: StreamPlan };

/** The Responses API state of one mock server: background responses by id, and the generated-token count. */
export interface ResponsesStore {
  /** The plan of `POST /responses`; a `background: true` response is kept for `GET` and cancel. */
  create(id: string, events: SseEvent[], background: boolean): StreamPlan;
  /** `GET /responses/{id}?stream=true&starting_after=N`, `GET /responses/{id}`, `POST /responses/{id}/cancel`; `undefined` for `POST /responses`. */
  route(method: string, path: string): ResponsesRoute | undefined;
}

/** A plan for a response generated from scratch (every other format, and `POST /responses` without background). */
export function freshPlan(events: SseEvent[], generated: (tokens: number) => void): StreamPlan {
  return { events, beforeWrite: (i) => generated(tokensIn(events[i]!)) };
}

/**
 * Background responses in memory. Generation is counted as events are first
 * written: a resumed `GET` replays stored events without counting them, so a
 * dropped and resumed response counts exactly one generation.
 */
export function createResponsesStore(generated: (tokens: number) => void): ResponsesStore {
  const stored = new Map<string, StoredResponse>();
  const planFor = (response: StoredResponse, from: number): StreamPlan => {
    const events = response.events.slice(from);
    return {
      events,
      beforeWrite: (i) => {
        const k = from + i;
        if (k < response.generated) return;
        response.generated = k + 1;
        generated(tokensIn(response.events[k]!));
      },
      cancelled: () => response.cancelled,
    };
  };
  return {
    create(id, events, background) {
      if (!background) return freshPlan(events, generated);
      const response: StoredResponse = { id, events, generated: 0, cancelled: false };
      stored.set(id, response);
      return planFor(response, 0);
    },
    route(method, path) {
      const [pathname = '', search = ''] = path.split('?');
      const match = /\/responses\/([^/]+)(\/cancel)?$/.exec(pathname);
      if (!match) return undefined;
      const id = safeDecode(match[1]!);
      const response = stored.get(id);
      const notFound: ResponsesRoute = {
        kind: 'json',
        status: 404,
        body: { error: { message: `No response found with id '${id.slice(0, 80)}'.`, type: 'invalid_request_error', param: null, code: null } },
      };
      if (match[2]) {
        if (method !== 'POST') return { kind: 'json', status: 405, body: { error: { message: 'Use POST to cancel.', type: 'invalid_request_error' } } };
        if (!response) return notFound;
        response.cancelled = true;
        return { kind: 'json', status: 200, body: { id, object: 'response', status: 'cancelled' } };
      }
      if (method !== 'GET') return { kind: 'json', status: 405, body: { error: { message: 'Use GET to retrieve a response.', type: 'invalid_request_error' } } };
      if (!response) return notFound;
      const query = new URLSearchParams(search);
      if (query.get('stream') !== 'true') {
        const status = response.cancelled ? 'cancelled' : response.generated === response.events.length ? 'completed' : 'in_progress';
        return { kind: 'json', status: 200, body: { id, object: 'response', status } };
      }
      const after = Number(query.get('starting_after') ?? -1);
      const from = response.events.findIndex((event) => sequenceOf(event) > after);
      return { kind: 'stream', id, plan: planFor(response, from === -1 ? response.events.length : from) };
    },
  };
}

/**
 * How many generated fragments (tokens) an event carries, in any of the
 * mock's formats: OpenAI choice deltas with text or arguments, Anthropic
 * `content_block_delta`, Gemini parts, Responses `*.delta` events.
 */
export function tokensIn(event: SseEvent): number {
  let json: any;
  try {
    json = JSON.parse(event.data);
  } catch {
    return 0;
  }
  if (typeof json !== 'object' || json === null) return 0;
  if (typeof json.type === 'string') {
    if (json.type === 'content_block_delta') return 1;
    return json.type.startsWith('response.') && json.type.endsWith('.delta') && typeof json.delta === 'string' && json.delta !== '' ? 1 : 0;
  }
  if (Array.isArray(json.choices)) {
    return json.choices.filter((choice: any) => {
      const delta = choice?.delta ?? {};
      return Boolean(delta.content || delta.reasoning_content || delta.reasoning || delta.refusal || delta.tool_calls?.some((call: any) => call?.function?.arguments));
    }).length;
  }
  if (Array.isArray(json.candidates)) {
    return json.candidates.reduce((sum: number, candidate: any) => sum + (candidate?.content?.parts ?? []).filter((part: any) => part?.text || part?.functionCall).length, 0);
  }
  return 0;
}

function sequenceOf(event: SseEvent): number {
  try {
    const value = (JSON.parse(event.data) as { sequence_number?: unknown }).sequence_number;
    return typeof value === 'number' ? value : Infinity;
  } catch {
    return Infinity;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
