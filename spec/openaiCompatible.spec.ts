import { lastValueFrom, toArray } from 'rxjs';
import { accumulateContent, ApiError, fromChatCompletion, HttpError, untilDone, type ChatCompletionOptions } from '../src/index.js';
import { serveFixed, type LoopbackServer } from './support/loopbackServer';

/**
 * The settings the README's Providers table gives for OpenAI-compatible
 * servers, checked against what a loopback server receives. `{origin}`
 * stands for the provider's host.
 */
const SETTINGS: Array<{ provider: string; options: (origin: string) => Omit<ChatCompletionOptions, 'body'>; path: string; auth: [string, string] }> = [
  { provider: 'OpenAI', options: (origin) => ({ baseURL: `${origin}/v1`, apiKey: 'sk-openai' }), path: '/v1/chat/completions', auth: ['authorization', 'Bearer sk-openai'] },
  { provider: 'OpenAI-compatible relay', options: (origin) => ({ baseURL: `${origin}/v1`, apiKey: 'sk-relay' }), path: '/v1/chat/completions', auth: ['authorization', 'Bearer sk-relay'] },
  { provider: 'DeepSeek', options: (origin) => ({ baseURL: origin, apiKey: 'sk-deepseek' }), path: '/chat/completions', auth: ['authorization', 'Bearer sk-deepseek'] },
  { provider: 'OpenRouter', options: (origin) => ({ baseURL: `${origin}/api/v1`, apiKey: 'sk-or-v1', headers: { 'HTTP-Referer': 'https://example.app', 'X-Title': 'My app' } }), path: '/api/v1/chat/completions', auth: ['authorization', 'Bearer sk-or-v1'] },
  { provider: 'Groq', options: (origin) => ({ baseURL: `${origin}/openai/v1`, apiKey: 'gsk-groq' }), path: '/openai/v1/chat/completions', auth: ['authorization', 'Bearer gsk-groq'] },
  { provider: 'vLLM', options: (origin) => ({ baseURL: `${origin}/v1` }), path: '/v1/chat/completions', auth: ['authorization', ''] },
  { provider: 'Ollama', options: (origin) => ({ baseURL: `${origin}/v1` }), path: '/v1/chat/completions', auth: ['authorization', ''] },
  {
    provider: 'Azure OpenAI',
    options: (origin) => ({ url: `${origin}/openai/deployments/my-gpt-4o/chat/completions?api-version=2024-10-21`, headers: { 'api-key': 'azure-key-123' } }),
    path: '/openai/deployments/my-gpt-4o/chat/completions?api-version=2024-10-21',
    auth: ['api-key', 'azure-key-123'],
  },
];

const body = { model: 'some-model', messages: [{ role: 'user', content: 'hi' }] } as const;
const chunk = (delta: object, finish: string | null = null, extra: object = {}) =>
  `data: ${JSON.stringify({ id: 'cmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;

describe('OpenAI-compatible providers through fromChatCompletion', () => {
  let server: LoopbackServer;
  afterEach(() => server?.close());

  const serve = async (text: string, status?: number, headers?: Record<string, string>) => {
    server = await serveFixed(text, status, headers);
    return server.url;
  };

  it.each(SETTINGS.map((setting) => [setting.provider, setting] as const))('%s: the documented settings reach the right URL with the right auth header', async (_name, setting) => {
    const origin = await serve(chunk({ role: 'assistant', content: 'ok' }) + chunk({}, 'stop') + 'data: [DONE]\n\n');
    const snapshot = await lastValueFrom(fromChatCompletion({ ...setting.options(origin), body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.content).toBe('ok');
    const [request] = server.requests;
    expect(request!.path).toBe(setting.path);
    const [header, value] = setting.auth;
    if (value === '') expect(request!.headers[header]).toBeUndefined();
    else expect(request!.headers[header]).toBe(value);
    if (setting.provider === 'Azure OpenAI') expect(request!.headers.authorization).toBeUndefined();
    if (setting.provider === 'OpenRouter') expect(request!.headers['x-title']).toBe('My app');
  });

  it('DeepSeek: accumulates reasoning_content apart from content, with usage on the finish chunk', async () => {
    const text =
      chunk({ role: 'assistant', content: null, reasoning_content: '' }) +
      chunk({ content: null, reasoning_content: 'We need ' }) +
      chunk({ content: null, reasoning_content: 'a haiku.' }) +
      chunk({ content: 'Autumn ', reasoning_content: null }) +
      chunk({ content: 'moon', reasoning_content: null }) +
      chunk({ content: '', reasoning_content: null }, 'stop', {
        usage: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30, completion_tokens_details: { reasoning_tokens: 12 } },
      }) +
      'data: [DONE]\n\n';
    const origin = await serve(text);
    const snapshot = await lastValueFrom(fromChatCompletion({ baseURL: origin, apiKey: 'sk-deepseek', body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.reasoning).toBe('We need a haiku.');
    expect(snapshot.content).toBe('Autumn moon');
    expect(snapshot.usage?.completion_tokens_details?.reasoning_tokens).toBe(12);
  });

  it('OpenRouter: skips ": OPENROUTER PROCESSING" comments and reads its reasoning field', async () => {
    const text = ': OPENROUTER PROCESSING\n\n' + chunk({ role: 'assistant', reasoning: 'hmm' }) + ': OPENROUTER PROCESSING\n\n' + chunk({ content: 'Hi' }) + chunk({}, 'stop') + 'data: [DONE]\n\n';
    const origin = await serve(text);
    const snapshot = await lastValueFrom(fromChatCompletion({ baseURL: `${origin}/api/v1`, body }).pipe(untilDone(), accumulateContent()));
    expect(snapshot.content).toBe('Hi');
    expect(snapshot.reasoning).toBe('hmm');
  });

  it('OpenRouter: a mid-stream error chunk (error plus finish_reason "error") becomes a retryable ApiError for a 502 code', async () => {
    const text =
      chunk({ role: 'assistant', content: 'Part' }) +
      `data: ${JSON.stringify({ id: 'cmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', error: { code: 502, message: 'Provider returned error' }, choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }] })}\n\n`;
    const origin = await serve(text);
    const error = await lastValueFrom(fromChatCompletion({ baseURL: origin, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 502, retryable: true });
    expect((error as Error).message).toContain('Provider returned error');
  });

  it('vLLM: its {"object":"error"} chunk becomes an ApiError', async () => {
    const origin = await serve(`data: ${JSON.stringify({ object: 'error', message: 'max_tokens is too large', type: 'BadRequestError', param: null, code: 400 })}\n\n`);
    const error = await lastValueFrom(fromChatCompletion({ baseURL: origin, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ type: 'BadRequestError', code: 400, retryable: false });
  });

  it('Ollama: a {"error": "..."} body becomes an HttpError with its message', async () => {
    const origin = await serve(JSON.stringify({ error: 'model "llama9" not found, try pulling it first' }), 404, { 'content-type': 'application/json' });
    const error = await lastValueFrom(fromChatCompletion({ baseURL: `${origin}/v1`, body }).pipe(toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as Error).message).toContain('model "llama9" not found');
  });

  it('Azure OpenAI: a 429 honours retry-after-ms and keeps the api-key out of the error', async () => {
    const origin = await serve(JSON.stringify({ error: { code: '429', message: 'Requests to the ChatCompletions_Create Operation have exceeded the rate limit.' } }), 429, {
      'content-type': 'application/json',
      'retry-after-ms': '850',
      'retry-after': '1',
    });
    const error = await lastValueFrom(
      fromChatCompletion({ url: `${origin}/openai/deployments/d/chat/completions?api-version=2024-10-21`, headers: { 'api-key': 'azure-key-123' }, body }).pipe(toArray()),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 850, retryable: true });
    expect(JSON.stringify(error) + String(error) + (error as Error).stack).not.toContain('azure-key-123');
  });
});
