/**
 * The request bodies are typed: this file is compiled (ts-jest, `npm run
 * typecheck`), and every `@ts-expect-error` below must meet an error, or the
 * compile fails. The runtime tests check that the one explicit way for vendor
 * fields (the source's type argument) sends them as written.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { accumulateContent, fromAnthropicMessages, fromChatCompletion, fromGeminiContent, fromResponses, untilDone } from '../src/index.js';
import { startMockChatServer, type MockChatServer } from '../src/testing/index.js';

/** Never called: only compiled. */
export function typos(): void {
  const messages = [{ role: 'user', content: 'Hi' }] as const;
  // @ts-expect-error accumulateContent() without untilDone() first: UseUntilDoneBeforeAccumulateContent
  fromChatCompletion({ body: { messages } }).pipe(accumulateContent());
  fromChatCompletion({ body: { messages } }).pipe(untilDone(), accumulateContent());
  // @ts-expect-error `modle` is not a field of a Chat Completions request
  fromChatCompletion({ body: { modle: 'gpt-4o-mini', messages } });
  // @ts-expect-error `mesages` is not a field
  fromChatCompletion({ body: { model: 'gpt-4o-mini', mesages: messages } });
  // @ts-expect-error `rol` is not a field of a message (and `role` is missing)
  fromChatCompletion({ body: { model: 'gpt-4o-mini', messages: [{ rol: 'usr', content: 'Hi' }] } });
  // @ts-expect-error 'usr' is not a role
  fromChatCompletion({ body: { model: 'gpt-4o-mini', messages: [{ role: 'usr', content: 'Hi' }] } });
  // @ts-expect-error `temprature` is not a field
  fromChatCompletion({ body: { model: 'gpt-4o-mini', messages, temprature: 0.2 } });
  // @ts-expect-error `temperature` is a number
  fromChatCompletion({ body: { model: 'gpt-4o-mini', messages, temperature: 'hot' } });
  // @ts-expect-error a content part needs its `type`
  fromChatCompletion({ body: { messages: [{ role: 'user', content: [{ text: 'Hi' }] }] } });
  // @ts-expect-error a tool message needs `tool_call_id`
  fromChatCompletion({ body: { messages: [{ role: 'tool', content: '42' }] } });
  // @ts-expect-error Responses: `temprature`
  fromResponses({ body: { model: 'gpt-5', input: 'Hi', temprature: 1 } });
  // @ts-expect-error Responses: `text.format` of an unknown type
  fromResponses({ body: { model: 'gpt-5', input: 'Hi', text: { format: { type: 'json' } } } });
  // @ts-expect-error Anthropic: `max_tokens` is required
  fromAnthropicMessages({ body: { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }] } });
  // @ts-expect-error Anthropic: 'system' is not a message role (it is the `system` field)
  fromAnthropicMessages({ body: { model: 'claude-sonnet-4-5', max_tokens: 9, messages: [{ role: 'system', content: 'Hi' }] } });
  // @ts-expect-error Gemini: `contents` is required, `content` is a typo
  fromGeminiContent({ model: 'gemini-2.5-flash', body: { content: [{ role: 'user', parts: [{ text: 'Hi' }] }] } });
  // @ts-expect-error Gemini: the role is 'model', not 'assistant'
  fromGeminiContent({ model: 'gemini-2.5-flash', body: { contents: [{ role: 'assistant', parts: [{ text: 'Hi' }] }] } });
  // @ts-expect-error a vendor field is named in the type argument, not guessed from the body
  fromChatCompletion({ body: { model: 'qwen', messages, top_k: 40 } });
  // @ts-expect-error the type argument types the vendor field too
  fromChatCompletion<{ top_k?: number }>({ body: { model: 'qwen', messages, top_k: 'forty' } });
  // @ts-expect-error with a type argument, a typo elsewhere still fails
  fromChatCompletion<{ top_k?: number }>({ body: { modle: 'qwen', messages, top_k: 40 } });
}

/** Never called: what must compile. */
export function valid(): void {
  fromChatCompletion({
    body: {
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '42' },
      ],
      temperature: 0.2,
      response_format: { type: 'json_schema', json_schema: { name: 'x', strict: true, schema: { type: 'object' } } },
    },
  });
  fromResponses({ body: { model: 'gpt-5', input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hi' }] }], background: true, store: true } });
  fromAnthropicMessages({ body: { model: 'claude-sonnet-4-5', max_tokens: 9, system: 'Be brief.', messages: [{ role: 'user', content: 'Hi' }], thinking: { type: 'enabled', budget_tokens: 1024 } } });
  fromGeminiContent({ model: 'gemini-2.5-flash', body: { contents: [{ role: 'user', parts: [{ text: 'Hi' }] }], generationConfig: { responseMimeType: 'application/json', responseJsonSchema: {} } } });
}

describe('typed request bodies', () => {
  let server: MockChatServer | undefined;
  afterEach(() => server?.close());

  it('the typo cases above are compiled (each @ts-expect-error met an error, or this file would not compile)', () => {
    expect(typeof typos).toBe('function');
    expect(typeof valid).toBe('function');
  });

  it('sends vendor fields named in the type argument as written, beside the typed ones', async () => {
    server = await startMockChatServer();
    await lastValueFrom(
      fromChatCompletion<{ top_k?: number; chat_template_kwargs?: { enable_thinking: boolean } }>({
        baseURL: `${server.url}/v1`,
        body: { model: 'qwen', messages: [{ role: 'user', content: 'Hi' }], top_k: 40, chat_template_kwargs: { enable_thinking: false } },
      }).pipe(untilDone(), toArray()),
    );
    expect(server.requests[0]!.body).toEqual({
      model: 'qwen',
      messages: [{ role: 'user', content: 'Hi' }],
      top_k: 40,
      chat_template_kwargs: { enable_thinking: false },
      stream: true,
    });
  });
});
