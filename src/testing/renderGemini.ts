import { countTokens, tokenize, type ResolvedScenario } from './scenario.js';
import type { SseEvent, WireFormat } from './wireFormat.js';

const FINISH_REASONS: Record<string, string> = { stop: 'STOP', length: 'MAX_TOKENS', tool_calls: 'STOP', content_filter: 'SAFETY' };
const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};

/** The Gemini `streamGenerateContent?alt=sse` stream: data-only chunks, no end marker. */
export const geminiFormat: WireFormat = {
  name: 'gemini',
  requiredField: 'contents',
  responseId: (n) => `resp-mock-${n}`,
  events: geminiEvents,
  inStreamError: (errorType, message) => ({ data: JSON.stringify({ error: { code: 500, message, status: errorType ?? 'INTERNAL' } }) }),
  errorBody: (status, message) => ({ error: { code: status, message, status: STATUS_NAMES[status] ?? 'UNKNOWN' } }),
};

function geminiEvents(scenario: ResolvedScenario, id: string): SseEvent[] {
  if (scenario.chunks) return scenario.chunks.map((chunk) => ({ data: typeof chunk === 'string' ? chunk : JSON.stringify(chunk) }));
  const { tokenSize } = scenario;
  const text = scenario.texts[0] ?? '';
  const promptTokenCount = 12;
  let candidatesTokenCount = 0;
  const chunk = (parts: object[], finishReason?: string): SseEvent => {
    const candidate = { content: { role: 'model', parts }, index: 0, ...(finishReason ? { finishReason } : {}) };
    const usageMetadata = scenario.usage
      ? { promptTokenCount, candidatesTokenCount, totalTokenCount: promptTokenCount + candidatesTokenCount }
      : undefined;
    return { data: JSON.stringify({ candidates: [candidate], usageMetadata, modelVersion: scenario.model, responseId: id }) };
  };
  const events: SseEvent[] = [];
  for (const token of tokenize(scenario.reasoning, tokenSize)) {
    candidatesTokenCount++;
    events.push(chunk([{ text: token, thought: true }]));
  }
  for (const token of tokenize(text, tokenSize)) {
    candidatesTokenCount++;
    events.push(chunk([{ text: token }]));
  }
  const calls = scenario.toolCalls.map((call) => ({ functionCall: { id: call.id, name: call.name, args: JSON.parse(call.arguments || '{}') } }));
  candidatesTokenCount = countTokens(text, tokenSize) + countTokens(scenario.reasoning, tokenSize);
  events.push(chunk(calls, FINISH_REASONS[scenario.finishReason] ?? scenario.finishReason.toUpperCase()));
  return events;
}
