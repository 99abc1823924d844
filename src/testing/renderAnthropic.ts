import { countTokens, tokenize, type ResolvedScenario } from './scenario.js';
import type { SseEvent, WireFormat } from './wireFormat.js';

const STOP_REASONS: Record<string, string> = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use', content_filter: 'refusal' };

/** The Anthropic Messages stream: named events from `message_start` to `message_stop`. */
export const anthropicFormat: WireFormat = {
  name: 'anthropic',
  requiredField: 'messages',
  responseId: (n) => `msg_mock_${n}`,
  events: anthropicEvents,
  inStreamError: (errorType, message) => ({
    event: 'error',
    data: JSON.stringify({ type: 'error', error: { type: errorType ?? 'overloaded_error', message } }),
  }),
  errorBody: (status, message) => ({ type: 'error', error: { type: anthropicErrorType(status), message } }),
};

function anthropicErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 529 || status === 503) return 'overloaded_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

function anthropicEvents(scenario: ResolvedScenario, id: string): SseEvent[] {
  if (scenario.chunks) {
    return scenario.chunks.map((chunk) =>
      typeof chunk === 'string' ? { event: 'message', data: chunk } : { event: String((chunk as { type?: unknown }).type ?? 'message'), data: JSON.stringify(chunk) },
    );
  }
  const event = (type: string, payload: object): SseEvent => ({ event: type, data: JSON.stringify({ type, ...payload }) });
  const { tokenSize } = scenario;
  const text = scenario.texts[0] ?? '';
  const events: SseEvent[] = [
    event('message_start', {
      message: { id, type: 'message', role: 'assistant', model: scenario.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 1 } },
    }),
    event('ping', {}),
  ];
  let index = 0;
  const block = (contentBlock: object, deltas: object[]) => {
    events.push(event('content_block_start', { index, content_block: contentBlock }));
    for (const delta of deltas) events.push(event('content_block_delta', { index, delta }));
    events.push(event('content_block_stop', { index }));
    index++;
  };
  if (scenario.reasoning !== '') {
    block({ type: 'thinking', thinking: '', signature: '' }, [
      ...tokenize(scenario.reasoning, tokenSize).map((thinking) => ({ type: 'thinking_delta', thinking })),
      { type: 'signature_delta', signature: 'mock-signature' },
    ]);
  }
  if (text !== '' || scenario.toolCalls.length === 0) {
    block({ type: 'text', text: '' }, tokenize(text, tokenSize).map((token) => ({ type: 'text_delta', text: token })));
  }
  for (const call of scenario.toolCalls) {
    block(
      { type: 'tool_use', id: call.id, name: call.name, input: {} },
      tokenize(call.arguments, tokenSize).map((partial_json) => ({ type: 'input_json_delta', partial_json })),
    );
  }
  const stopReason = STOP_REASONS[scenario.finishReason] ?? scenario.finishReason;
  const outputTokens = countTokens(text, tokenSize) + countTokens(scenario.reasoning, tokenSize);
  events.push(event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: scenario.usage ? outputTokens : 0 } }));
  events.push(event('message_stop', {}));
  return events;
}
