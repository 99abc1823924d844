import { countTokens, tokenize, type ResolvedScenario } from './scenario.js';
import type { SseEvent, WireFormat } from './wireFormat.js';

const INCOMPLETE_REASONS: Record<string, string> = { length: 'max_output_tokens', content_filter: 'content_filter' };

/**
 * The OpenAI Responses API stream: `event: <type>` + `data: {type, sequence_number, ...}`
 * from `response.created` to the terminal `response.completed` (or
 * `response.incomplete` for the finish reasons `length` and `content_filter`),
 * with no `[DONE]`.
 */
export const responsesFormat: WireFormat = {
  name: 'responses',
  requiredField: 'input',
  responseId: (n) => `resp_mock_${n}`,
  events: responsesEvents,
  inStreamError: (errorType, message) => ({
    event: 'error',
    data: JSON.stringify({ type: 'error', error: { type: errorType ?? 'server_error', code: errorType ?? 'server_error', message, param: null } }),
  }),
  errorBody: (status, message) => ({
    error: { message, type: status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code: null },
  }),
  keepAlive: () => ({ event: 'keepalive', data: JSON.stringify({ type: 'keepalive' }) }),
};

function responsesEvents(scenario: ResolvedScenario, id: string): SseEvent[] {
  const events: SseEvent[] = [];
  const emit = (type: string, payload: object) => {
    events.push({ event: type, data: JSON.stringify({ type, sequence_number: events.length, ...payload }) });
  };
  if (scenario.chunks) {
    for (const chunk of scenario.chunks) {
      if (typeof chunk === 'string') events.push({ data: chunk });
      else events.push({ event: String((chunk as { type?: unknown }).type ?? 'message'), data: JSON.stringify(chunk) });
    }
    return events;
  }
  const { tokenSize } = scenario;
  const response = (status: string, extra: object = {}) => ({
    id,
    object: 'response',
    created_at: 1_700_000_000,
    status,
    model: scenario.model,
    output: [],
    usage: null,
    ...extra,
  });
  emit('response.created', { response: response('in_progress') });
  emit('response.in_progress', { response: response('in_progress') });
  let output = 0;
  const text = scenario.texts[0] ?? '';
  if (scenario.reasoning !== '') {
    const item = { id: `rs_${id}`, type: 'reasoning', summary: [] };
    const at = { item_id: item.id, output_index: output, summary_index: 0 };
    emit('response.output_item.added', { output_index: output, item });
    emit('response.reasoning_summary_part.added', { ...at, part: { type: 'summary_text', text: '' } });
    for (const delta of tokenize(scenario.reasoning, tokenSize)) emit('response.reasoning_summary_text.delta', { ...at, delta, obfuscation: 'mock' });
    emit('response.reasoning_summary_text.done', { ...at, text: scenario.reasoning });
    emit('response.reasoning_summary_part.done', { ...at, part: { type: 'summary_text', text: scenario.reasoning } });
    emit('response.output_item.done', { output_index: output, item: { ...item, summary: [{ type: 'summary_text', text: scenario.reasoning }] } });
    output++;
  }
  if (text !== '' || scenario.toolCalls.length === 0) {
    const item = { id: `msg_${id}`, type: 'message', status: 'in_progress', role: 'assistant', content: [] };
    const at = { item_id: item.id, output_index: output, content_index: 0 };
    const part = (value: string) => ({ type: 'output_text', text: value, annotations: [], logprobs: [] });
    emit('response.output_item.added', { output_index: output, item });
    emit('response.content_part.added', { ...at, part: part('') });
    for (const delta of tokenize(text, tokenSize)) emit('response.output_text.delta', { ...at, delta, logprobs: [], obfuscation: 'mock' });
    emit('response.output_text.done', { ...at, text, logprobs: [] });
    emit('response.content_part.done', { ...at, part: part(text) });
    emit('response.output_item.done', { output_index: output, item: { ...item, status: 'completed', content: [part(text)] } });
    output++;
  }
  for (const call of scenario.toolCalls) {
    const item = { id: `fc_${id}_${output}`, type: 'function_call', status: 'in_progress', call_id: call.id, name: call.name, arguments: '' };
    const at = { item_id: item.id, output_index: output };
    emit('response.output_item.added', { output_index: output, item });
    for (const delta of tokenize(call.arguments, tokenSize)) emit('response.function_call_arguments.delta', { ...at, delta, obfuscation: 'mock' });
    emit('response.function_call_arguments.done', { ...at, arguments: call.arguments });
    emit('response.output_item.done', { output_index: output, item: { ...item, status: 'completed', arguments: call.arguments } });
    output++;
  }
  const outputTokens = countTokens(text, tokenSize) + countTokens(scenario.reasoning, tokenSize);
  const usage = scenario.usage
    ? {
        input_tokens: 12,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: outputTokens,
        output_tokens_details: { reasoning_tokens: countTokens(scenario.reasoning, tokenSize) },
        total_tokens: 12 + outputTokens,
      }
    : null;
  const reason = INCOMPLETE_REASONS[scenario.finishReason];
  if (reason) emit('response.incomplete', { response: response('incomplete', { usage, incomplete_details: { reason } }) });
  else emit('response.completed', { response: response('completed', { usage }) });
  return events;
}
