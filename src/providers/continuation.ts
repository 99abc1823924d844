import { defer, map, type Observable } from 'rxjs';
import { chainState } from '../internal/retryChain.js';
import { markStreamStart } from '../streamStart.js';
import { DONE, type ChatCompletionChunk, type ChatCompletionEvent } from '../types.js';

/** How `fromChatCompletion` asks an OpenAI-compatible server to continue a partial answer. */
export type ChatContinuation = 'vllm' | 'deepseek';

/** The answer one source instance is streaming, kept across its subscriptions. */
interface PartialAnswer {
  /** The `content` of choice 0 received so far. */
  text: string;
  /** `false` once anything was received that a continuation cannot carry (a tool call, another choice, content parts). */
  continuable: boolean;
  /** The `stream` token of `markStreamStart`: the same object for every subscription of this answer. */
  token: object;
}

/**
 * Resumption by continuation, within one retry chain (see `retryChain`: a
 * later or parallel subscription of the same source starts fresh).
 * `events(partial)` makes one request: a fresh one for `partial === undefined`,
 * else one that asks the server to continue an assistant message holding
 * `partial`. Every subscription of a chain after a drop in which choice-0
 * text (and nothing else) was received continues: the request carries that text, and the first chunk is
 * marked `{ resumed: true, stream: token }`. Otherwise (nothing received, a
 * tool call or another choice under way) it starts fresh, marked
 * `{ resumed: false, stream: token }`. `DONE` ends the answer.
 *
 * `trimEnd`: send the partial text without its trailing whitespace (Anthropic
 * rejects a final assistant turn ending in whitespace) and drop up to as
 * much leading whitespace from the continuation's first text, so the
 * whitespace already shown is not shown twice.
 *
 * ```text
 * 1st subscription:  --{Hel}*--{lo }--X          * = { resumed: false, stream: t }
 * 2nd subscription:  (request continues "Hello")  --{ world}+--D--|   + = { resumed: true, stream: t }
 * ```
 *
 * @example
 * ```ts
 * continuable((partial) => serverSentEvents(requestWith(partial)).pipe(map(toChunk)), false);
 * ```
 */
export function continuable(
  events: (partial: string | undefined) => Observable<ChatCompletionEvent>,
  trimEnd: boolean,
): Observable<ChatCompletionEvent> {
  // The key of this source's state in each retry chain (see retryChain): a later or parallel subscription starts fresh.
  const key = {};
  return defer(() => {
    const { state: chain } = chainState<{ answer: PartialAnswer | undefined }>(key, () => ({ answer: undefined }));
    const { answer } = chain;
    const held = answer !== undefined && answer.continuable ? answer.text : '';
    const sent = trimEnd ? held.trimEnd() : held;
    const resumed = sent !== '';
    const current: PartialAnswer = resumed && answer ? answer : { text: '', continuable: true, token: {} };
    chain.answer = current;
    let strip = held.length - sent.length;
    let first = true;
    return events(resumed ? sent : undefined).pipe(
      map((event) => {
        if (event === DONE) {
          if (chain.answer === current) chain.answer = undefined;
          return event;
        }
        if (strip > 0) strip = stripLeadingWhitespace(event, strip);
        record(current, event);
        if (first) {
          first = false;
          markStreamStart(event, { resumed, stream: current.token });
        }
        return event;
      }),
    );
  });
}

/** Adds what `chunk` carries to `answer`; anything but choice-0 text makes it not continuable. */
function record(answer: PartialAnswer, chunk: ChatCompletionChunk): void {
  for (const choice of chunk.choices ?? []) {
    const { delta } = choice;
    if (choice.index !== 0 || delta?.tool_calls?.length || (delta as { function_call?: unknown } | undefined)?.function_call) {
      answer.continuable = false;
    }
    const content = delta?.content;
    if (typeof content === 'string') answer.text += content;
    else if (content !== undefined && content !== null) answer.continuable = false;
  }
}

/** Drops up to `limit` leading whitespace characters of choice 0's text; returns how many may still be dropped. */
function stripLeadingWhitespace(chunk: ChatCompletionChunk, limit: number): number {
  const delta = chunk.choices?.find((choice) => choice.index === 0)?.delta;
  if (!delta || typeof delta.content !== 'string' || delta.content === '') return limit;
  const content = delta.content;
  let dropped = 0;
  while (dropped < limit && dropped < content.length && /\s/.test(content[dropped]!)) dropped++;
  delta.content = content.slice(dropped);
  return dropped < content.length ? 0 : limit - dropped;
}

/** Checks a `continuation` option and the request it would extend; throws `TypeError` before any request. */
export function assertContinuation<T extends string>(
  source: string,
  value: unknown,
  allowed: readonly T[],
  body: { messages?: unknown },
): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new TypeError(`${source}: options.continuation must be ${allowed.map((name) => `'${name}'`).join(' or ')}, or left out.`);
  }
  const { messages } = body;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new TypeError(`${source}: options.continuation needs options.body.messages, a non-empty array.`);
  }
  const last: unknown = messages[messages.length - 1];
  if (typeof last === 'object' && last !== null && (last as { role?: unknown }).role === 'assistant') {
    throw new TypeError(`${source}: options.continuation cannot extend a request whose last message is already an assistant message.`);
  }
  return value as T;
}
