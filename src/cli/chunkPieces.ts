import type { ChatCompletionChunk } from '../types.js';

/** The text a chunk adds to choice 0, read the way `accumulateContent` reads it. */
export interface ChunkPieces {
  content: string;
  reasoning: string;
  refusal: string;
  /** The arguments fragment when the chunk holds exactly one tool-call fragment; else `undefined`. */
  toolArguments: string | undefined;
}

/**
 * What one chunk adds to choice 0: joined `content`, reasoning
 * (`reasoning_content`, else `reasoning`), `refusal`, and the arguments of a
 * lone tool-call fragment. Lets the CLI show each new piece without reading
 * the whole snapshot again; `followText` checks it against the snapshot's
 * length before trusting it.
 *
 * ```text
 * { choices: [{ index: 0, delta: { content: "lo" } }] }  -> { content: "lo", reasoning: "", ... }
 * ```
 *
 * @example
 * ```ts
 * const { content } = chunkPieces(chunk);
 * ```
 */
export function chunkPieces(chunk: ChatCompletionChunk | undefined): ChunkPieces {
  const pieces: ChunkPieces = { content: '', reasoning: '', refusal: '', toolArguments: undefined };
  const choices: unknown = chunk?.choices;
  if (!Array.isArray(choices)) return pieces;
  let toolFragments = 0;
  for (const choice of choices as ChatCompletionChunk['choices']) {
    if (typeof choice !== 'object' || choice === null) continue;
    if ((typeof choice.index === 'number' ? choice.index : 0) !== 0) continue;
    const delta = choice.delta ?? {};
    if (typeof delta.content === 'string') pieces.content += delta.content;
    const reasoning = delta.reasoning_content || delta.reasoning;
    if (typeof reasoning === 'string') pieces.reasoning += reasoning;
    if (typeof delta.refusal === 'string') pieces.refusal += delta.refusal;
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls) {
        toolFragments++;
        const fragment: unknown = call?.function?.arguments;
        pieces.toolArguments = typeof fragment === 'string' ? fragment : undefined;
      }
    }
  }
  if (toolFragments !== 1) pieces.toolArguments = undefined;
  return pieces;
}
