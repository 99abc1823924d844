export { withTelemetry } from './withTelemetry.js';
export type { WithTelemetryOptions } from './withTelemetry.js';
export type { TelemetryApi, TelemetryRequest } from './answerRequest.js';
export { relayTelemetry } from './relayTelemetry.js';
export type { RelayTelemetry, RelayTelemetryOptions } from './relayTelemetry.js';
export type { RelayActivity } from '../server/relayActivity.js';
