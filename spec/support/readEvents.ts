import { createParser, type EventSourceMessage } from 'eventsource-parser';

/** Reads SSE events from `url` until `stopAfter` events have come (then cuts the connection) or the body ends. */
export async function readEvents(url: string, init: RequestInit, stopAfter = Infinity): Promise<{ events: EventSourceMessage[]; status: number }> {
  const controller = new AbortController();
  const response = await fetch(url, { ...init, signal: controller.signal });
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  if (response.body === null) return { events, status: response.status };
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  try {
    while (events.length < stopAfter) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    controller.abort();
  }
  return { events: events.slice(0, stopAfter), status: response.status };
}
