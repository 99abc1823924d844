import { scan, type OperatorFunction } from 'rxjs';
import type {
  ChatCompletionChunk,
  ChatCompletionChunkChoice,
  ChatCompletionSnapshot,
  ChoiceSnapshot,
  ToolCallDelta,
  ToolCallSnapshot,
} from '../types.js';

/**
 * Folds chunks into a snapshot of the whole message so far, emitting a new
 * snapshot after every chunk: text, reasoning, refusal and tool calls of each
 * choice, the finish reason and usage. Snapshots are never changed after they
 * are emitted (unchanged parts are shared between them), and a chunk costs in
 * proportion to its own size, not to the message so far.
 *
 * A chunk with a non-empty `id` other than the snapshot's starts a new
 * generation (a retry upstream restarted the request): the snapshot starts
 * over, so text is never duplicated.
 *
 * ```text
 * chunks:     --{Hel}--{lo}--{stop}--
 * snapshots:  --"Hel"--"Hello"--"Hello" (finishReason "stop")--
 * ```
 *
 * Tool calls merge by `index`; indices may start at 1 or skip. A fragment
 * without `index` opens a new call when it brings a new `id` and continues the
 * last call otherwise; a fragment whose `id` differs from the call already at
 * its index opens a new call after the last one.
 *
 * @example
 * ```ts
 * fromChatCompletion(options).pipe(untilDone(), accumulateContent())
 *   .subscribe(({ content, toolCalls }) => render(content, toolCalls));
 * ```
 */
export function accumulateContent(): OperatorFunction<ChatCompletionChunk, ChatCompletionSnapshot> {
  return scan(foldChunk, EMPTY_SNAPSHOT);
}

const EMPTY_SNAPSHOT: ChatCompletionSnapshot = {
  content: '',
  reasoning: '',
  refusal: '',
  toolCalls: [],
  finishReason: null,
  choices: [],
};

const EMPTY_CHOICE: Omit<ChoiceSnapshot, 'index'> = {
  content: '',
  reasoning: '',
  refusal: '',
  toolCalls: [],
  finishReason: null,
};

function foldChunk(previous: ChatCompletionSnapshot, chunk: ChatCompletionChunk): ChatCompletionSnapshot {
  const restarted = typeof chunk.id === 'string' && chunk.id !== '' && previous.id !== undefined && chunk.id !== previous.id;
  const base = restarted ? EMPTY_SNAPSHOT : previous;
  let choices = base.choices;
  const deltas = chunk.choices ?? [];
  for (let i = 0; i < deltas.length; i++) choices = foldChoice(choices, deltas[i]!);
  // Choices stay in index order, so choice 0, when present, comes first.
  const first = choices.length > 0 && choices[0]!.index === 0 ? choices[0]! : EMPTY_CHOICE;
  const usage = chunk.usage != null && typeof chunk.usage === 'object' ? chunk.usage : base.usage;
  const snapshot: ChatCompletionSnapshot = {
    id: base.id ?? (chunk.id || undefined),
    model: chunk.model ?? base.model,
    content: first.content,
    reasoning: first.reasoning,
    refusal: first.refusal,
    toolCalls: first.toolCalls,
    finishReason: first.finishReason,
    choices,
  };
  if (usage !== undefined) snapshot.usage = usage;
  return snapshot;
}

/** Returns `choices` with `choice` folded into the entry of its index (kept in index order). */
function foldChoice(choices: ChoiceSnapshot[], choice: ChatCompletionChunkChoice): ChoiceSnapshot[] {
  const index = typeof choice.index === 'number' ? choice.index : 0;
  let position = 0;
  while (position < choices.length && choices[position]!.index < index) position++;
  const found = position < choices.length && choices[position]!.index === index ? choices[position]! : undefined;
  const delta = choice.delta ?? {};
  const before = found ?? { index, ...EMPTY_CHOICE };
  const next: ChoiceSnapshot = {
    index,
    content: append(before.content, delta.content),
    reasoning: append(before.reasoning, delta.reasoning_content || delta.reasoning),
    refusal: append(before.refusal, delta.refusal),
    toolCalls: delta.tool_calls?.length ? foldToolCalls(before.toolCalls, delta.tool_calls) : before.toolCalls,
    finishReason: choice.finish_reason ?? before.finishReason,
  };
  // The common case, one choice: a new one-element array, no copy.
  if (found && choices.length === 1) return [next];
  const copy = choices.slice();
  if (found) copy[position] = next;
  else copy.splice(position, 0, next);
  return copy;
}

function append(text: string, fragment: string | null | undefined): string {
  return typeof fragment === 'string' && fragment !== '' ? text + fragment : text;
}

function foldToolCalls(calls: ToolCallSnapshot[], deltas: ToolCallDelta[]): ToolCallSnapshot[] {
  const result = calls.slice();
  for (const delta of deltas) {
    const position = targetPosition(result, delta);
    const existing = position < result.length ? result[position] : undefined;
    const merged = mergeToolCall(existing ?? newToolCall(result, delta), delta);
    if (existing) result[position] = merged;
    else insertByIndex(result, merged);
  }
  return result;
}

/**
 * Where the call this fragment belongs to stands in `calls`; `calls.length`
 * when it opens a new one. A known `id` wins; then the `index`; a fragment
 * with neither continues the last call.
 */
function targetPosition(calls: ToolCallSnapshot[], delta: ToolCallDelta): number {
  if (delta.id) {
    const byId = lastPosition(calls, (call) => call.id === delta.id);
    if (byId !== -1) return byId;
  }
  if (typeof delta.index !== 'number') return delta.id || calls.length === 0 ? calls.length : calls.length - 1;
  const byIndex = lastPosition(calls, (call) => call.index === delta.index);
  if (byIndex === -1) return calls.length;
  return delta.id && calls[byIndex]!.id !== undefined ? calls.length : byIndex;
}

function lastPosition(calls: ToolCallSnapshot[], matches: (call: ToolCallSnapshot) => boolean): number {
  for (let i = calls.length - 1; i >= 0; i--) if (matches(calls[i]!)) return i;
  return -1;
}

function newToolCall(calls: ToolCallSnapshot[], delta: ToolCallDelta): ToolCallSnapshot {
  const highest = calls.reduce((max, call) => Math.max(max, call.index), -1);
  const taken = typeof delta.index === 'number' && calls.some((call) => call.index === delta.index);
  const index = typeof delta.index === 'number' && !taken ? delta.index : highest + 1;
  return { index, type: 'function', function: { name: '', arguments: '' } };
}

function mergeToolCall(call: ToolCallSnapshot, delta: ToolCallDelta): ToolCallSnapshot {
  const name = delta.function?.name;
  const fragment = delta.function?.arguments as unknown;
  const args = typeof fragment === 'string' ? fragment : fragment != null ? JSON.stringify(fragment) : '';
  const merged: ToolCallSnapshot = {
    index: call.index,
    type: 'function',
    function: { name: name ? name : call.function.name, arguments: call.function.arguments + args },
  };
  const id = delta.id || call.id;
  if (id !== undefined) merged.id = id;
  return merged;
}

function insertByIndex(calls: ToolCallSnapshot[], call: ToolCallSnapshot): void {
  let position = calls.length;
  while (position > 0 && calls[position - 1]!.index > call.index) position--;
  calls.splice(position, 0, call);
}
