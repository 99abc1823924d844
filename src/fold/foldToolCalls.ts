import type { ToolCallSnapshot } from '../types.js';
import { limitError, MAX_TOOL_CALLS } from './foldLimits.js';
import { appendText, type TextBudget } from './foldText.js';
import { snapshotArray } from './snapshotArray.js';

/** What `foldToolCall` needs of the fold: its text budget, and the number of the chunk being folded. */
export interface ToolCallBudget extends TextBudget {
  readonly chunks: number;
}

/** A tool call while it is folded: changed in place here, emitted as a `ToolCallSnapshot` copy. */
interface CallState {
  index: number;
  id: string | undefined;
  name: string;
  arguments: string;
  /** The chunk (its number) that appended `added` to the arguments. */
  addedAt: number;
  added: string;
  /** The snapshot of the call as it is now; `undefined` after a change. */
  snapshot: ToolCallSnapshot | undefined;
}

/**
 * The tool calls of one choice. Lookups by id and by index are map lookups
 * and the emitted array is rebuilt only after a chunk that changed a call, so
 * a fragment never scans the calls already open.
 */
export interface ToolCallsState {
  /** In index order. */
  calls: CallState[];
  byId: Map<string, CallState>;
  byIndex: Map<number, CallState>;
  highestIndex: number;
  /** The array last emitted; stale while `changed`. */
  snapshot: readonly ToolCallSnapshot[];
  changed: boolean;
  /** The last chunk that appended to any call's arguments. */
  addedAt: number;
  /** The last chunk that opened a call before an open one, moving it to a later position. */
  movedAt: number;
  /** An array of `''` per call, for the chunks that appended no arguments. */
  nothingAdded: readonly string[];
}

/** The array every choice without tool calls shares, in every stream; frozen, so no consumer can add to it. */
export const NO_TOOL_CALLS: readonly ToolCallSnapshot[] = Object.freeze([]);

const NOTHING_ADDED: readonly string[] = Object.freeze([]);

export function newToolCallsState(): ToolCallsState {
  return {
    calls: [],
    byId: new Map(),
    byIndex: new Map(),
    highestIndex: -1,
    snapshot: NO_TOOL_CALLS,
    changed: false,
    addedAt: 0,
    movedAt: 0,
    nothingAdded: NOTHING_ADDED,
  };
}

/**
 * A choice or tool-call index the fold accepts: a non-negative integer below
 * 2³¹. Anything else (negative, fractional, a string, `NaN`) is no index.
 */
export function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0x7fffffff;
}

/**
 * Folds one tool-call fragment. A known non-empty `id` names its call; then
 * the `index`; a fragment with neither continues the last call. A fragment
 * that brings a new `id` at an index whose call already has another id opens
 * a new call after the last one. Empty ids are ignored, so a call's id is
 * never overwritten with `""`.
 */
export function foldToolCall(tools: ToolCallsState, fragment: unknown, budget: ToolCallBudget): void {
  if (typeof fragment !== 'object' || fragment === null) return;
  const { id: rawId, index: rawIndex, function: fn } = fragment as { id?: unknown; index?: unknown; function?: unknown };
  const id = typeof rawId === 'string' && rawId !== '' ? rawId : undefined;
  const index = isIndex(rawIndex) ? rawIndex : undefined;
  const call = findCall(tools, id, index) ?? openCall(tools, index, budget.chunks);
  if (typeof fn === 'object' && fn !== null) {
    const { name, arguments: args } = fn as { name?: unknown; arguments?: unknown };
    if (typeof name === 'string' && name !== '') call.name = name;
    const text = argumentsText(args);
    if (text !== '') {
      call.arguments = appendText(budget, call.arguments, text);
      const chunk = budget.chunks;
      if (call.addedAt === chunk) call.added += text;
      else {
        call.addedAt = chunk;
        call.added = text;
      }
      tools.addedAt = chunk;
    }
  }
  if (id !== undefined && call.id === undefined) {
    call.id = id;
    tools.byId.set(id, call);
  }
  call.snapshot = undefined;
  tools.changed = true;
}

/** The array of the calls as they are now; the same array as before when nothing changed. */
export function toolCallsSnapshot(tools: ToolCallsState): readonly ToolCallSnapshot[] {
  if (!tools.changed) return tools.snapshot;
  tools.changed = false;
  return (tools.snapshot = snapshotArray(tools.calls, cachedCallSnapshot));
}

function findCall(tools: ToolCallsState, id: string | undefined, index: number | undefined): CallState | undefined {
  if (id !== undefined) {
    const named = tools.byId.get(id);
    if (named !== undefined) return named;
  }
  if (index === undefined) return id === undefined ? tools.calls[tools.calls.length - 1] : undefined;
  const atIndex = tools.byIndex.get(index);
  return atIndex !== undefined && (id === undefined || atIndex.id === undefined) ? atIndex : undefined;
}

/**
 * What chunk number `chunk` appended to each call's arguments, by position; `undefined` when
 * it opened a call before an open one (the positions moved).
 */
export function appendedArguments(tools: ToolCallsState, chunk: number): readonly string[] | undefined {
  if (tools.movedAt === chunk) return undefined;
  const { calls } = tools;
  if (tools.addedAt !== chunk) {
    if (tools.nothingAdded.length !== calls.length) tools.nothingAdded = new Array<string>(calls.length).fill('');
    return tools.nothingAdded;
  }
  const added = new Array<string>(calls.length);
  for (let i = 0; i < calls.length; i++) {
    const call = calls[i]!;
    added[i] = call.addedAt === chunk ? call.added : '';
  }
  return added;
}

function openCall(tools: ToolCallsState, index: number | undefined, chunk: number): CallState {
  const { calls } = tools;
  if (calls.length >= MAX_TOOL_CALLS) throw limitError(`a choice opened more than ${MAX_TOOL_CALLS} tool calls`);
  const at = index !== undefined && !tools.byIndex.has(index) ? index : tools.highestIndex + 1;
  const call: CallState = { index: at, id: undefined, name: '', arguments: '', addedAt: 0, added: '', snapshot: undefined };
  let position = calls.length;
  while (position > 0 && calls[position - 1]!.index > at) position--;
  if (position === calls.length) calls.push(call);
  else {
    calls.splice(position, 0, call);
    tools.movedAt = chunk;
  }
  tools.byIndex.set(at, call);
  if (at > tools.highestIndex) tools.highestIndex = at;
  return call;
}

/** A fragment's arguments as text: a string as it is, an object (some servers) as JSON. */
function argumentsText(args: unknown): string {
  if (typeof args === 'string') return args;
  if (args === undefined || args === null) return '';
  try {
    return JSON.stringify(args) ?? '';
  } catch {
    // A RangeError from an object nested thousands deep, or JSON past V8's string limit.
    throw limitError('a tool call sent arguments as an object that cannot be written as JSON (nested too deeply or too large)');
  }
}

function cachedCallSnapshot(call: CallState): ToolCallSnapshot {
  return (call.snapshot ??= callSnapshotOf(call));
}

function callSnapshotOf(call: CallState): ToolCallSnapshot {
  const fn = { name: call.name, arguments: call.arguments };
  return call.id === undefined ? { index: call.index, type: 'function', function: fn } : { index: call.index, id: call.id, type: 'function', function: fn };
}
