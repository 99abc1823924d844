export { startMockChatServer } from './startMockChatServer.js';
export type { MockChatServer, MockChatServerOptions, RecordedRequest } from './startMockChatServer.js';
export { expectedOutput, DEFAULT_TEXT } from './scenario.js';
export type { ExpectedOutput, MockFault, MockScenario } from './scenario.js';
