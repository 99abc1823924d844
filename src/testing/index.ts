/**
 * The fault-injecting mock server (Node): OpenAI Chat Completions and Responses, Anthropic and Gemini streaming on 127.0.0.1.
 *
 * @example
 * ```ts
 * import { startMockChatServer, expectedOutput } from 'rxjs-llm-stream/testing';
 * ```
 *
 * @module rxjs-llm-stream/testing
 */
export { startMockChatServer } from './startMockChatServer.js';
export type { MockChatServer, MockChatServerOptions, RecordedRequest } from './startMockChatServer.js';
export { expectedOutput, DEFAULT_TEXT } from './scenario.js';
export type { ExpectedOutput, MockFault, MockScenario } from './scenario.js';
