// src/fold/: what accumulateContent folds (text, tool calls, the appended mark, snapshot arrays)
// and its limits. May import internal/ and the root modules (errors, types, streamStart); never
// sources/, operators/ or server/ (npm run lint:layout).

import { markStreamStart, streamStartOf } from '../streamStart.js';
import type { ChatCompletionSnapshot, ChoiceSnapshot, Usage } from '../types.js';
import { putAppended, type Appended } from './foldAppended.js';
import { limitError, MAX_CHOICES } from './foldLimits.js';
import { appendText, textOfParts, type TextBudget } from './foldText.js';
import { snapshotArray } from './snapshotArray.js';
import { appendedArguments, foldToolCall, isIndex, newToolCallsState, NO_TOOL_CALLS, toolCallsSnapshot, type ToolCallsState } from './foldToolCalls.js';

/** One choice while it is folded: changed in place here, emitted as a `ChoiceSnapshot` copy. */
interface ChoiceState {
  index: number;
  content: string;
  reasoning: string;
  refusal: string;
  finishReason: string | null;
  /** The chunk (its number in `FoldState.chunks`) the three texts below were appended by. */
  addedAt: number;
  addedContent: string;
  addedReasoning: string;
  addedRefusal: string;
  /** Created at the choice's first tool-call fragment. */
  tools: ToolCallsState | undefined;
  /** The snapshot of the choice as it is now; `undefined` after a change. */
  snapshot: ChoiceSnapshot | undefined;
}

/**
 * Everything one fold knows: the state behind the snapshots, changed in place
 * chunk by chunk. Never emitted; snapshots are copies of its parts, so a
 * consumer that changes a snapshot (against its `readonly` types) cannot
 * change the fold.
 */
export interface FoldState extends TextBudget {
  /** Chunks folded so far. */
  chunks: number;
  /** Names this fold in the `Appended` marks of its snapshots; a fold that starts over is a new state with a new one. */
  readonly origin: object;
  id: string | undefined;
  model: string | undefined;
  usage: Readonly<Usage> | undefined;
  /** In index order. */
  choices: ChoiceState[];
  byIndex: Map<number, ChoiceState>;
  /** Choice 0 (`byIndex.get(0)`), kept at hand: most chunks touch only it. */
  zero: ChoiceState | undefined;
  /** The array last emitted; stale while `choicesChanged`. */
  choicesSnapshot: readonly ChoiceSnapshot[];
  choicesChanged: boolean;
}

const NO_CHOICES: readonly ChoiceSnapshot[] = Object.freeze([]);

/** What the snapshot shows of choice 0 before it exists. Frozen: every stream shares it. */
const EMPTY_CHOICE: ChoiceSnapshot = Object.freeze({
  index: 0,
  content: '',
  reasoning: '',
  refusal: '',
  toolCalls: NO_TOOL_CALLS,
  finishReason: null,
});

export function newFoldState(): FoldState {
  const state: FoldState = {
    chunks: 0,
    origin: Object.freeze({}),
    textLength: 0,
    id: undefined,
    model: undefined,
    usage: undefined,
    choices: [],
    byIndex: new Map(),
    zero: undefined,
    choicesSnapshot: NO_CHOICES,
    choicesChanged: false,
  };
  return state;
}

/**
 * Folds one chunk into `state` and returns the new snapshot. The work is
 * proportional to the chunk, plus one copy of the arrays of choices and tool
 * calls the chunk changed (their length is capped). The snapshot carries
 * what the chunk appended (`foldAppended.ts`), and a chunk's start mark
 * (`markStreamStart`) is passed on to its snapshot.
 */
export function foldChunk(state: FoldState, chunk: unknown): ChatCompletionSnapshot {
  state.chunks++;
  if (typeof chunk === 'object' && chunk !== null) {
    const { id, model, choices, usage } = chunk as { id?: unknown; model?: unknown; choices?: unknown; usage?: unknown };
    if (state.id === undefined && typeof id === 'string' && id !== '') state.id = id;
    if (typeof model === 'string' && (model !== '' || state.model === undefined)) state.model = model;
    if (Array.isArray(choices)) for (let i = 0; i < choices.length; i++) foldChoice(state, choices[i]);
    if (typeof usage === 'object' && usage !== null) state.usage = frozenUsage(usage as Usage);
  }
  const snapshot = snapshotOf(state);
  // The snapshot of a chunk that starts a subscription carries its mark on, so what follows the
  // fold (withStreamStatus's `resuming`, a parser after it) knows a restart from a resume.
  const start = streamStartOf(chunk);
  return start === undefined ? snapshot : markStreamStart(snapshot, start);
}

/**
 * Folds one choice of a chunk into the choice of its index. A missing index
 * means 0; an index that is not a non-negative integer skips the choice.
 */
function foldChoice(state: FoldState, choice: unknown): void {
  if (typeof choice !== 'object' || choice === null) return;
  const { index: rawIndex, delta, finish_reason: finish } = choice as { index?: unknown; delta?: unknown; finish_reason?: unknown };
  const index = rawIndex === undefined || rawIndex === null ? 0 : rawIndex;
  if (!isIndex(index)) return;
  const target = (index === 0 ? state.zero : state.byIndex.get(index)) ?? openChoice(state, index);
  if (typeof delta === 'object' && delta !== null) foldDelta(state, target, delta);
  if (typeof finish === 'string' && finish !== '') target.finishReason = finish;
  target.snapshot = undefined;
  state.choicesChanged = true;
}

function foldDelta(state: FoldState, target: ChoiceState, delta: object): void {
  const { content, reasoning_content: reasoningContent, reasoning, refusal, tool_calls: toolCalls } = delta as Record<string, unknown>;
  if (target.addedAt !== state.chunks) {
    target.addedAt = state.chunks;
    target.addedContent = target.addedReasoning = target.addedRefusal = '';
  }
  if (typeof content === 'string') {
    addContent(state, target, content);
  } else if (Array.isArray(content)) {
    const parts = textOfParts(content);
    addReasoning(state, target, parts.reasoning);
    addContent(state, target, parts.content);
  }
  // Some servers repeat one text in both fields: reasoning_content wins.
  const thought = typeof reasoningContent === 'string' && reasoningContent !== '' ? reasoningContent : reasoning;
  if (typeof thought === 'string') addReasoning(state, target, thought);
  if (typeof refusal === 'string' && refusal !== '') {
    target.refusal = appendText(state, target.refusal, refusal);
    target.addedRefusal += refusal;
  }
  if (Array.isArray(toolCalls) && toolCalls.length > 0) {
    const tools = (target.tools ??= newToolCallsState());
    for (let i = 0; i < toolCalls.length; i++) foldToolCall(tools, toolCalls[i], state);
  }
}

function addContent(state: FoldState, target: ChoiceState, text: string): void {
  if (text === '') return;
  target.content = appendText(state, target.content, text);
  target.addedContent += text;
}

function addReasoning(state: FoldState, target: ChoiceState, text: string): void {
  if (text === '') return;
  target.reasoning = appendText(state, target.reasoning, text);
  target.addedReasoning += text;
}

function openChoice(state: FoldState, index: number): ChoiceState {
  const { choices } = state;
  if (choices.length >= MAX_CHOICES) {
    throw limitError(
      `the stream sent more than ${MAX_CHOICES} choices (a server that gives every chunk a new choice index, as some foundry-local versions do, needs its indices set to 0 first)`,
    );
  }
  const choice: ChoiceState = {
    index,
    content: '',
    reasoning: '',
    refusal: '',
    finishReason: null,
    addedAt: 0,
    addedContent: '',
    addedReasoning: '',
    addedRefusal: '',
    tools: undefined,
    snapshot: undefined,
  };
  let position = choices.length;
  while (position > 0 && choices[position - 1]!.index > index) position--;
  if (position === choices.length) choices.push(choice);
  else choices.splice(position, 0, choice);
  state.byIndex.set(index, choice);
  if (index === 0) state.zero = choice;
  return choice;
}

function snapshotOf(state: FoldState): ChatCompletionSnapshot {
  if (state.choicesChanged) {
    state.choicesSnapshot = snapshotArray(state.choices, cachedChoiceSnapshot);
    state.choicesChanged = false;
  }
  const first = state.zero?.snapshot ?? EMPTY_CHOICE;
  const snapshot: { -readonly [K in keyof ChatCompletionSnapshot]: ChatCompletionSnapshot[K] } = {
    id: state.id,
    model: state.model,
    content: first.content,
    reasoning: first.reasoning,
    refusal: first.refusal,
    toolCalls: first.toolCalls,
    finishReason: first.finishReason,
    choices: state.choicesSnapshot,
  };
  if (state.usage !== undefined) snapshot.usage = state.usage;
  putAppended(snapshot, appendedAt(state));
  return snapshot;
}

/** What the last chunk folded into `state` appended to choice 0. */
function appendedAt(state: FoldState): Appended {
  const { chunks, zero } = state;
  const added = zero !== undefined && zero.addedAt === chunks;
  return {
    fold: state.origin,
    chunk: chunks,
    content: added ? zero.addedContent : '',
    reasoning: added ? zero.addedReasoning : '',
    refusal: added ? zero.addedRefusal : '',
    toolCalls: zero?.tools === undefined ? NO_TOOL_CALLS_APPENDED : appendedArguments(zero.tools, chunks),
  };
}

const NO_TOOL_CALLS_APPENDED: readonly string[] = Object.freeze([]);

function cachedChoiceSnapshot(choice: ChoiceState): ChoiceSnapshot {
  return (choice.snapshot ??= choiceSnapshotOf(choice));
}

function choiceSnapshotOf(choice: ChoiceState): ChoiceSnapshot {
  return {
    index: choice.index,
    content: choice.content,
    reasoning: choice.reasoning,
    refusal: choice.refusal,
    toolCalls: choice.tools === undefined ? NO_TOOL_CALLS : toolCallsSnapshot(choice.tools),
    finishReason: choice.finishReason,
  };
}

/** A frozen copy of the chunk's usage, its nested detail objects frozen copies too (the chunk stays the caller's). */
function frozenUsage(usage: Usage): Readonly<Usage> {
  const copy: Record<string, unknown> = { ...usage };
  for (const key of Object.keys(copy)) {
    const value = copy[key];
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) copy[key] = Object.freeze({ ...value });
  }
  return Object.freeze(copy) as Readonly<Usage>;
}
