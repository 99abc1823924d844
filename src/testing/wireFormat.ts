import type { ResolvedScenario } from './scenario.js';

/** One server-sent event before framing. */
export interface SseEvent {
  event?: string;
  data: string;
}

/** How the mock server speaks one provider's streaming protocol. */
export interface WireFormat {
  name: 'openai' | 'anthropic' | 'gemini' | 'responses';
  /** Every event of one full generation, the end marker included. */
  events(scenario: ResolvedScenario, id: string): SseEvent[];
  /** The in-stream error event the provider sends. */
  inStreamError(errorType: string | undefined, message: string): SseEvent;
  /** The JSON body of an HTTP error response. */
  errorBody(status: number, message: string): unknown;
  /** The id of the `n`th response (1-based). */
  responseId(n: number): string;
  /** The body field a valid request must carry. */
  requiredField: string;
  /** The keep-alive the provider sends while idle; default: the comment `: keep-alive`. */
  keepAlive?: () => SseEvent;
}

/** Frames events as SSE text with the given line ending. */
export function frame(event: SseEvent, lineEnding: string): string {
  const lines = event.event === undefined ? [] : [`event: ${event.event}`];
  lines.push(`data: ${event.data}`);
  return lines.join(lineEnding) + lineEnding + lineEnding;
}
