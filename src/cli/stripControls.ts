/**
 * Removes what a terminal would act on instead of show: whole escape
 * sequences (CSI `ESC [` ... such as clear-screen and cursor moves; OSC
 * `ESC ]` ... such as window titles, OSC 52 clipboard writes and OSC 8
 * links; DCS, SOS, PM and APC strings; two- and three-byte `ESC` sequences),
 * their 8-bit C1 forms (U+0080 to U+009F), and every other C0 control
 * character and DEL. Line feeds and tabs stay; a carriage return goes (it
 * would let text overwrite the line before it, so CRLF becomes LF).
 *
 * It keeps state between calls, so a sequence split across two pieces of a
 * stream is removed whole. A string sequence that never ends swallows the
 * rest, as a terminal would; it never reaches the terminal either way.
 *
 * ```text
 * "Hi \x1b[2J\x1b]0;owned\x07there\r\n"  ->  "Hi there\n"
 * "a\x1b]52;c;"  "ZXZpbA==\x07b"          ->  "a"  "b"
 * ```
 *
 * @example
 * ```ts
 * const strip = createControlStripper();
 * for (const piece of pieces) process.stdout.write(strip(piece));
 * ```
 */
export function createControlStripper(): (text: string) => string {
  let state: State = 'ground';
  return (text) => {
    if (state === 'ground' && !CONTROL.test(text)) return text;
    let kept = '';
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (state === 'ground') {
        if (!isControl(code)) continue;
        kept += text.slice(start, i);
        start = i + 1;
        if (code === ESC) state = 'escape';
        else if (code === C1_CSI) state = 'csi';
        else if (C1_STRING_STARTS.has(code)) state = 'string';
        continue;
      }
      const next = nextState(state, code);
      start = i + 1;
      state = next === 'reread' ? 'ground' : next;
      // A character that cannot continue the sequence ends it and is read again, as text or as a control.
      if (next === 'reread') start = i--;
    }
    return state === 'ground' ? kept + text.slice(start) : kept;
  };
}

/**
 * `createControlStripper()` applied to one whole text.
 *
 * ```text
 * "bad\x1b[2J input"  ->  "bad input"
 * ```
 *
 * @example
 * ```ts
 * process.stderr.write(`note: ${stripControls(serverText)}\n`);
 * ```
 */
export function stripControls(text: string): string {
  return createControlStripper()(text);
}

type State = 'ground' | 'escape' | 'intermediate' | 'csi' | 'string';

const LF = 0x0a;
const TAB = 0x09;
const ESC = 0x1b;
const BEL = 0x07;
const CAN = 0x18;
const SUB = 0x1a;
const C1_CSI = 0x9b;
const C1_ST = 0x9c;
/** DCS, SOS, OSC, PM, APC: strings that run to a terminator. */
const C1_STRING_STARTS = new Set([0x90, 0x98, 0x9d, 0x9e, 0x9f]);
/** After ESC: `P` DCS, `X` SOS, `]` OSC, `^` PM, `_` APC. */
const ESC_STRING_STARTS = new Set(['P', 'X', ']', '^', '_'].map((c) => c.charCodeAt(0)));
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

function isControl(code: number): boolean {
  return (code < 0x20 && code !== LF && code !== TAB) || (code >= 0x7f && code <= 0x9f);
}

function nextState(state: Exclude<State, 'ground'>, code: number): State | 'reread' {
  if (code === ESC) return 'escape';
  if (code === CAN || code === SUB) return 'ground';
  switch (state) {
    case 'string':
      return code === BEL || code === C1_ST ? 'ground' : 'string';
    case 'escape':
      if (code === 0x5b) return 'csi';
      if (ESC_STRING_STARTS.has(code)) return 'string';
      if (code >= 0x20 && code <= 0x2f) return 'intermediate';
      if (code >= 0x30 && code <= 0x7e) return 'ground';
      return code < 0x20 ? 'escape' : 'reread';
    case 'intermediate':
      if (code >= 0x20 && code <= 0x2f) return 'intermediate';
      if (code >= 0x30 && code <= 0x7e) return 'ground';
      return code < 0x20 ? 'intermediate' : 'reread';
    case 'csi':
      if (code >= 0x20 && code <= 0x3f) return 'csi';
      if (code >= 0x40 && code <= 0x7e) return 'ground';
      return code < 0x20 ? 'csi' : 'reread';
  }
}
