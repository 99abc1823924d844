import type { ChatCompletionChunk, ChatCompletionSnapshot, ToolCallSnapshot } from '../types.js';
import { chunkPieces } from './chunkPieces.js';
import { createTextFollower, type FollowStep, type TextFollower } from './followText.js';
import type { LineKeeper } from './lineKeeper.js';
import { createControlStripper } from './stripControls.js';

/** Prints an answer as its snapshots arrive. */
export interface AnswerPrinter {
  /** A snapshot, the chunk that made it, and whether it is the first of a new subscription (a retry). */
  next(snapshot: ChatCompletionSnapshot, chunk: ChatCompletionChunk | undefined, newFold: boolean): void;
  /** The answer completed; `last` is its final snapshot. */
  complete(last: ChatCompletionSnapshot | undefined): void;
  /** Characters read or compared so far: linear in the answer's length. */
  work(): number;
}

/** The stderr line before an answer that starts over. */
export const RESTART_NOTICE = '[the stream restarted with a different answer; it follows in full]';

/**
 * Text mode: prints only what each snapshot adds to the content; a retry
 * that regenerates the same text prints nothing twice; one that generates a
 * different text gets `RESTART_NOTICE` on stderr and the new answer in full
 * on a new line. With `strip`, control characters and escape sequences are
 * removed from the text (a terminal would act on them).
 *
 * ```text
 * snapshots:  "Hel"  "Hello"  | retry |  "Hel"  "Hello"  "Hello you"
 * stdout:     "Hel"  "lo"                                 " you"  "\n"
 * ```
 *
 * @example
 * ```ts
 * const printer = createTextPrinter(keeper, stdoutIsTerminal && !config.raw);
 * ```
 */
export function createTextPrinter(keeper: LineKeeper, strip: boolean): AnswerPrinter {
  const follower = createTextFollower();
  const freshFilter = () => (strip ? createControlStripper() : (text: string) => text);
  let filter = freshFilter();
  const restartWith = (content: string) => {
    keeper.line(RESTART_NOTICE);
    filter = freshFilter();
    keeper.answer(`${keeper.cursorMidLine() ? '\n' : ''}${filter(content)}`);
    follower.reset(content);
  };
  return {
    next(snapshot, chunk, newFold) {
      const { content } = snapshot;
      const step = follower.next(content.length, chunk && chunkPieces(chunk).content, () => content, newFold);
      if (step.kind === 'append') keeper.answer(filter(step.piece));
      else if (step.kind === 'restart') restartWith(content);
    },
    complete(last) {
      // The last attempt's answer may be a strict prefix of what an earlier attempt printed.
      if (last !== undefined && follower.behind()) restartWith(last.content);
      if (keeper.answerEndsMidLine()) keeper.answer('\n');
    },
    work: () => follower.work,
  };
}

/**
 * `--json`: one JSON object per line. A `delta` line holds what a snapshot
 * added (`content`, `reasoning`, `refusal`, `toolCalls` fragments); a
 * `restart` line says that a retry generated a different answer, whose text
 * so far follows in the next `delta`; the `final` line holds the whole final
 * snapshot. Output grows with the answer, not with the answer times its
 * chunks. C1 controls, DEL and U+2028/U+2029 are written as `\u` escapes
 * (JSON already escapes C0), so the lines are safe on a terminal and parse
 * to the same values.
 *
 * ```text
 * {"type":"delta","content":"Hel"}
 * {"type":"delta","content":"lo"}
 * {"type":"final","content":"Hello","finishReason":"stop",...}
 * ```
 *
 * @example
 * ```ts
 * const printer = createJsonPrinter(keeper);
 * ```
 */
export function createJsonPrinter(keeper: LineKeeper): AnswerPrinter {
  const fields = ['content', 'reasoning', 'refusal'] as const;
  let followers = newFollowers();
  let calls: ShownCall[] = [];
  let lastCalls: readonly ToolCallSnapshot[] = [];
  let work = 0;
  const print = (line: object) => keeper.answer(`${jsonLine(line)}\n`);

  function newFollowers(): Record<(typeof fields)[number], TextFollower> {
    return { content: createTextFollower(), reasoning: createTextFollower(), refusal: createTextFollower() };
  }
  const retire = () => {
    work += fields.reduce((sum, field) => sum + followers[field].work, 0) + calls.reduce((sum, call) => sum + call.arguments.work, 0);
  };
  const restartWith = (snapshot: ChatCompletionSnapshot) => {
    retire();
    followers = newFollowers();
    calls = [];
    print({ type: 'restart' });
    const delta: Record<string, unknown> = { type: 'delta' };
    for (const field of fields) {
      followers[field].reset(snapshot[field]);
      if (snapshot[field] !== '') delta[field] = snapshot[field];
    }
    if (snapshot.toolCalls.length > 0) {
      delta.toolCalls = snapshot.toolCalls.map((call) => {
        const shown = showCall(call);
        shown.arguments.reset(call.function.arguments);
        calls.push(shown);
        return toolFragment(call, call.function.arguments);
      });
    }
    lastCalls = snapshot.toolCalls;
    if (Object.keys(delta).length > 1) print(delta);
  };

  return {
    next(snapshot, chunk, newFold) {
      const pieces = chunkPieces(chunk);
      const delta: Record<string, unknown> = { type: 'delta' };
      for (const field of fields) {
        const text = snapshot[field];
        const step = followers[field].next(text.length, chunk && pieces[field], () => text, newFold);
        if (step.kind === 'restart') return restartWith(snapshot);
        if (step.kind === 'append') delta[field] = step.piece;
      }
      if (newFold || snapshot.toolCalls !== lastCalls) {
        const fragments: object[] = [];
        for (let i = 0; i < snapshot.toolCalls.length; i++) {
          const call = snapshot.toolCalls[i]!;
          if (!newFold && call === lastCalls[i]) continue;
          const shown = (calls[i] ??= { id: undefined, name: '', arguments: createTextFollower() });
          if ((shown.id !== undefined && call.id !== shown.id) || (shown.name !== '' && call.function.name !== shown.name)) {
            return restartWith(snapshot);
          }
          const args = call.function.arguments;
          const step: FollowStep = shown.arguments.next(args.length, chunk && pieces.toolArguments, () => args, newFold);
          if (step.kind === 'restart') return restartWith(snapshot);
          const fragment: Record<string, unknown> = { index: call.index };
          if (call.id !== undefined && shown.id === undefined) fragment.id = shown.id = call.id;
          if (call.function.name !== '' && shown.name === '') fragment.name = shown.name = call.function.name;
          if (step.kind === 'append') fragment.arguments = step.piece;
          if (Object.keys(fragment).length > 1) fragments.push(fragment);
        }
        lastCalls = snapshot.toolCalls;
        if (fragments.length > 0) delta.toolCalls = fragments;
      }
      if (Object.keys(delta).length > 1) print(delta);
    },
    complete(last) {
      if (last === undefined) return;
      const behind = fields.some((field) => followers[field].behind()) || calls.length > last.toolCalls.length || calls.some((call) => call.arguments.behind());
      if (behind) restartWith(last);
      print({ type: 'final', ...last });
    },
    work: () => work + fields.reduce((sum, field) => sum + followers[field].work, 0) + calls.reduce((sum, call) => sum + call.arguments.work, 0),
  };
}

/** A tool call as far as the JSON lines showed it. */
interface ShownCall {
  id: string | undefined;
  name: string;
  arguments: TextFollower;
}

function showCall(call: ToolCallSnapshot): ShownCall {
  return { id: call.id, name: call.function.name, arguments: createTextFollower() };
}

function toolFragment(call: ToolCallSnapshot, args: string): object {
  return { index: call.index, ...(call.id !== undefined ? { id: call.id } : {}), name: call.function.name, arguments: args };
}

/** `JSON.stringify`, with the characters a terminal may act on (C1, DEL) and JavaScript's line separators escaped. */
function jsonLine(value: object): string {
  return JSON.stringify(value).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
