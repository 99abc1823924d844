import { createParser } from 'eventsource-parser';
import OpenAI from 'openai';
// The library as it ships: its own built package (`npm run bench` builds it
// first), not the TypeScript sources. Run from source through tsx, every call
// from one module to another goes through a getter that the build has not, and
// the split transport makes many such calls per chunk.
import { accumulateContent, fromChatCompletion, untilDone, type ChatCompletionSnapshot } from 'rxjs-llm-stream';
import type { Fetch } from './delivery.js';

/** What a contender ends with, and when its first content arrived (ms from the call). */
export interface Result {
  text: string;
  args: string;
  firstChunkMs: number;
}

export type Contender = (fetch: Fetch, baseURL: string) => Promise<Result>;

const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'bench' }] };

/** TextDecoder (stream mode) + eventsource-parser + JSON.parse + string concatenation: the practical floor. */
export const floor: Contender = async (fetch, baseURL) => {
  const started = performance.now();
  let firstChunkMs = -1;
  const response = await fetch(`${baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify({ ...body, stream: true }) });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let args = '';
  const parser = createParser({
    onEvent(event) {
      if (event.data === '[DONE]') return;
      const delta = JSON.parse(event.data).choices[0]?.delta;
      if (!delta) return;
      if (delta.content) {
        if (firstChunkMs < 0) firstChunkMs = performance.now() - started;
        text += delta.content;
      }
      if (delta.tool_calls) for (const call of delta.tool_calls) args += call.function?.arguments ?? '';
    },
  });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parser.feed(decoder.decode(value, { stream: true }));
  }
  return { text, args, firstChunkMs };
};

/** The three parts of the library that its contender uses: this build's, or another build's (`npm run bench:compare`). */
export interface LibraryParts {
  fromChatCompletion: typeof fromChatCompletion;
  untilDone: typeof untilDone;
  accumulateContent: typeof accumulateContent;
}

/**
 * The library: fromChatCompletion → untilDone → accumulateContent, subscribed
 * as an app does, keeping the last snapshot. The first-content check sits in
 * `next`, as the other contenders have it inline: a `tap` for it would add a
 * step per chunk that only the measurement needs.
 */
export const libraryOf =
  (parts: LibraryParts): Contender =>
  (fetch, baseURL) =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      let firstChunkMs = -1;
      let last: ChatCompletionSnapshot | undefined;
      parts
        .fromChatCompletion({ baseURL, fetch, body })
        .pipe(parts.untilDone(), parts.accumulateContent())
        .subscribe({
          next: (snapshot) => {
            if (firstChunkMs < 0 && snapshot.content !== '') firstChunkMs = performance.now() - started;
            last = snapshot;
          },
          error: reject,
          complete: () => resolve({ text: last?.content ?? '', args: (last?.toolCalls ?? []).map((call) => call.function.arguments).join(''), firstChunkMs }),
        });
    });

export const library = libraryOf({ fromChatCompletion, untilDone, accumulateContent });

const client = (fetch: Fetch, baseURL: string) => new OpenAI({ apiKey: 'sk-bench', baseURL, fetch: fetch as never, maxRetries: 0 });

/** The official SDK: `chat.completions.create({ stream: true })`, iterated. */
export const openaiCreate: Contender = async (fetch, baseURL) => {
  const started = performance.now();
  let firstChunkMs = -1;
  const stream = await client(fetch, baseURL).chat.completions.create({ ...body, stream: true });
  let text = '';
  let args = '';
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta;
    if (!delta) continue;
    if (delta.content) {
      if (firstChunkMs < 0) firstChunkMs = performance.now() - started;
      text += delta.content;
    }
    if (delta.tool_calls) for (const call of delta.tool_calls) args += call.function?.arguments ?? '';
  }
  return { text, args, firstChunkMs };
};

/** The official SDK's accumulator: `chat.completions.stream()` and its final completion. */
export const openaiStream: Contender = async (fetch, baseURL) => {
  const started = performance.now();
  let firstChunkMs = -1;
  const stream = client(fetch, baseURL).chat.completions.stream(body);
  stream.on('content', () => {
    if (firstChunkMs < 0) firstChunkMs = performance.now() - started;
  });
  const final = await stream.finalChatCompletion();
  const message = final.choices[0]!.message;
  const args = (message.tool_calls ?? []).map((call) => ('function' in call ? call.function.arguments : '')).join('');
  return { text: message.content ?? '', args, firstChunkMs };
};

/** What people write by hand: getReader + TextDecoder + split('\n') + JSON.parse of `data: ` lines. */
export const naive: Contender = async (fetch, baseURL) => {
  const started = performance.now();
  let firstChunkMs = -1;
  const response = await fetch(`${baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify({ ...body, stream: true }) });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let text = '';
  let args = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
      const delta = JSON.parse(line.slice(6)).choices[0]?.delta;
      if (!delta) continue;
      if (delta.content) {
        if (firstChunkMs < 0) firstChunkMs = performance.now() - started;
        text += delta.content;
      }
      if (delta.tool_calls) for (const call of delta.tool_calls) args += call.function?.arguments ?? '';
    }
  }
  return { text, args, firstChunkMs };
};

export const CONTENDERS: Record<string, Contender> = { FLOOR: floor, library, 'openai create': openaiCreate, 'openai stream()': openaiStream, naive };
