/** Deterministic, realistic OpenAI `chat.completion.chunk` streams. */
import { mulberry32 } from '../spec/support/mulberry32.js';

export interface GeneratedStream {
  bytes: Uint8Array;
  /** The content joined: what every contender must end with. */
  text: string;
  /** The tool-call arguments joined (tool variant). */
  args: string;
  /** Content (or argument) chunks. */
  chunks: number;
}

const ALPHABET = ['a', 'e', 'i', 'o', 'u', 't', 'n', 's', 'r', ' ', ' ', ' ', 'é', '中', '文', '🚀', '.', ',', 'K', '\n'];

/**
 * A role chunk, `chunks` content chunks of 1–8 characters (with é, 中文 and
 * emoji), a finish chunk, a usage chunk and `[DONE]`. The tool variant
 * streams one call's arguments in `chunks` fragments instead.
 */
export function generateStream(chunks: number, variant: 'text' | 'tools' = 'text', seed = 42): GeneratedStream {
  const random = mulberry32(seed);
  const head = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o-mini', system_fingerprint: 'fp_bench' };
  const line = (choices: unknown[], extra: object = {}) => `data: ${JSON.stringify({ ...head, choices, ...extra })}\n\n`;
  const delta = (d: object, finish: string | null = null) => [{ index: 0, delta: d, logprobs: null, finish_reason: finish }];
  const parts: string[] = [line(delta({ role: 'assistant', content: '', refusal: null }))];
  let text = '';
  let args = '';
  if (variant === 'tools') parts.push(line(delta({ tool_calls: [{ index: 0, id: 'call_bench', type: 'function', function: { name: 'write_report', arguments: '' } }] })));
  for (let i = 0; i < chunks; i++) {
    let token = '';
    const length = 1 + Math.floor(random() * 8);
    for (let c = 0; c < length; c++) token += ALPHABET[Math.floor(random() * ALPHABET.length)];
    if (variant === 'tools') {
      args += token;
      parts.push(line(delta({ tool_calls: [{ index: 0, function: { arguments: token } }] })));
    } else {
      text += token;
      parts.push(line(delta({ content: token })));
    }
  }
  parts.push(line(delta({}, variant === 'tools' ? 'tool_calls' : 'stop')));
  parts.push(line([], { usage: { prompt_tokens: 20, completion_tokens: chunks, total_tokens: chunks + 20 } }));
  parts.push('data: [DONE]\n\n');
  return { bytes: new TextEncoder().encode(parts.join('')), text, args, chunks };
}

/** Cuts bytes into pieces: fixed 16 KiB, or random 1–64 bytes that split lines and characters. */
export function cut(bytes: Uint8Array, mode: '16k' | 'tiny', seed = 7): Uint8Array[] {
  const random = mulberry32(seed);
  const pieces: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; ) {
    const size = mode === '16k' ? 16 * 1024 : 1 + Math.floor(random() * 64);
    pieces.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return pieces;
}
