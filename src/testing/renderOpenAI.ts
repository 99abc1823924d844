import { countTokens, tokenize, type ResolvedScenario } from './scenario.js';
import type { SseEvent, WireFormat } from './wireFormat.js';

/** The OpenAI chat-completions stream: `data:` chunks, then `data: [DONE]`. */
export const openAIFormat: WireFormat = {
  name: 'openai',
  requiredField: 'messages',
  responseId: (n) => `chatcmpl-mock-${n}`,
  events: openAIEvents,
  inStreamError: (errorType, message) => ({
    data: JSON.stringify({ error: { message, type: errorType ?? 'server_error', param: null, code: null } }),
  }),
  errorBody: (status, message) => ({
    error: { message, type: status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code: null },
  }),
};

function openAIEvents(scenario: ResolvedScenario, id: string): SseEvent[] {
  const base = { id, object: 'chat.completion.chunk', created: 1_700_000_000, model: scenario.model, system_fingerprint: 'fp_mock' };
  const chunk = (choices: unknown[], extra: object = {}): SseEvent => ({ data: JSON.stringify({ ...base, choices, ...extra }) });
  const choice = (index: number, delta: object, finishReason: string | null = null) => ({ index, delta, logprobs: null, finish_reason: finishReason });
  if (scenario.chunks) {
    const raw = scenario.chunks.map((chunk) => ({ data: typeof chunk === 'string' ? chunk : JSON.stringify({ id, ...chunk }) }));
    return [...raw, { data: '[DONE]' }];
  }
  const { texts, tokenSize } = scenario;
  const events: SseEvent[] = [chunk(texts.map((_, i) => choice(i, { role: 'assistant', content: '', refusal: null })))];
  for (const token of tokenize(scenario.reasoning, tokenSize)) events.push(chunk([choice(0, { reasoning_content: token })]));
  const perChoice = texts.map((text) => tokenize(text, tokenSize));
  const longest = Math.max(...perChoice.map((tokens) => tokens.length));
  for (let t = 0; t < longest; t++) {
    perChoice.forEach((tokens, i) => {
      if (t < tokens.length) events.push(chunk([choice(i, { content: tokens[t] })]));
    });
  }
  scenario.toolCalls.forEach((call, index) => {
    events.push(chunk([choice(0, { tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] })]));
    for (const fragment of tokenize(call.arguments, tokenSize)) {
      events.push(chunk([choice(0, { tool_calls: [{ index, function: { arguments: fragment } }] })]));
    }
  });
  events.push(chunk(texts.map((_, i) => choice(i, {}, scenario.finishReason))));
  if (scenario.usage) {
    const completion = texts.reduce((sum, text) => sum + countTokens(text, tokenSize), countTokens(scenario.reasoning, tokenSize));
    events.push(chunk([], { usage: { prompt_tokens: 12, completion_tokens: completion, total_tokens: 12 + completion } }));
  }
  events.push({ data: '[DONE]' });
  return events;
}
