// src/json/: the incremental partial-JSON parser and the Standard Schema interface. May import
// internal/ and the root modules; never sources/, operators/ or server/ (npm run lint:layout).

/**
 * An incremental parser for JSON text that arrives in fragments. It keeps its
 * state between fragments, so a fragment costs in proportion to its own
 * length (plus a shallow copy of the containers still open when the value is
 * read), never a re-parse of the text so far.
 *
 * The value read between fragments is the best parse of the prefix:
 * containers closed, an unfinished string value kept as far as it goes (an
 * escape sequence cut in the middle is left out until it completes), an
 * unfinished number, literal or object key left out. So the value only grows:
 * a field never changes type or disappears from one read to the next (see
 * `isJsonPrefix` in the specs for the precise order). Every value read is
 * deeply frozen; containers that did not change since the last read are the
 * same objects, so `===` tells what changed.
 *
 * A partial string never ends in half of a surrogate pair: a high surrogate
 * at the end of an unfinished string is held back until its pair arrives
 * (raw or as a `\u` escape).
 *
 * A key repeated in one object keeps its first value, in every partial and in
 * the whole value (`JSON.parse` keeps the last one): the later values are
 * read, checked, and left out. So a field never changes type, and the whole
 * value is the last partial, completed.
 *
 * The grammar is strict JSON (RFC 8259), as `JSON.parse` reads it: after a
 * syntax error the parser stops, the value stays what it was after the last
 * good character (also when the error comes in the same fragment), and
 * `finish()` reports the error. Nesting deeper than `maxDepth` is an error too, so
 * hostile input cannot make reading the value expensive.
 */

enum Mode {
  /** A value must come (start, after `:`, after `,` in an array). */
  Value,
  /** After `[`: a value or `]`. */
  ArrayFirst,
  /** After `{`: a key or `}`. */
  ObjectFirst,
  /** After `,` in an object: a key. */
  Key,
  /** After a key: `:`. */
  Colon,
  /** After a value inside a container: `,` or the closing bracket. */
  After,
  StringValue,
  StringKey,
  Number,
  Literal,
  /** The top-level value is complete: only whitespace may follow. */
  End,
  Failed,
}

interface Frame {
  readonly isArray: boolean;
  /** The children so far, each already final (primitives or frozen containers). */
  readonly items: unknown[] | Record<string, unknown>;
  /** Object frames: the key whose value is being read. */
  key: string | undefined;
  /** Object frames: `key` is a repeat of a key the object already has, so its value is read but kept out. */
  repeated: boolean;
  /** Object frames: keys so far. */
  size: number;
}

const LITERALS: Readonly<Record<string, unknown>> = { t: true, f: false, n: null };
const LITERAL_TEXT: Readonly<Record<string, string>> = { t: 'true', f: 'false', n: 'null' };
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** Characters a JSON number may hold: digits, '-', '+', '.', 'e', 'E'. */
const isNumberChar = (code: number) => (code >= 0x30 && code <= 0x39) || code === 0x2d || code === 0x2b || code === 0x2e || code === 0x65 || code === 0x45;

/** Sets an own data property; a key `"__proto__"` stays a plain key, never the prototype (as in `JSON.parse`). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/**
 * `text` without a high surrogate at its end: the first half of a pair (an
 * emoji) whose second half has not arrived. Shown once it has, so a partial
 * string never holds half a character.
 */
function withoutLoneHighSurrogate(text: string): string {
  const last = text.charCodeAt(text.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? text.slice(0, -1) : text;
}

/** How many items of open containers a read may copy per character that arrived since the last read. */
const COPIES_PER_CHARACTER = 16;

/** The default cap on nesting. */
export const DEFAULT_MAX_DEPTH = 512;

export class PartialJsonParser {
  private mode: Mode = Mode.Value;
  private readonly stack: Frame[] = [];
  private root: unknown = undefined;
  /** The string, number or literal being read. */
  private token = '';
  /** An escape sequence cut by a fragment boundary (`\` or `\u12`). */
  private escape = '';
  /** Characters consumed, for error positions. */
  private position = 0;
  /** Raised whenever the visible value changes (and only then: a closing quote or bracket shows nothing new). */
  private version = 0;
  private readVersion = -1;
  private readValue: unknown = undefined;
  /** Characters pushed since the last fresh read. */
  private sinceRead = 0;
  private failure: SyntaxError | undefined;

  constructor(private readonly maxDepth = DEFAULT_MAX_DEPTH) {}

  /** Whether the text so far is not a prefix of any JSON text (or nests too deep). */
  get failed(): boolean {
    return this.mode === Mode.Failed;
  }

  /** Feeds the next fragment of the text. Costs in proportion to `fragment.length`. */
  push(fragment: string): void {
    let i = 0;
    const length = fragment.length;
    while (i < length && this.mode !== Mode.Failed) {
      switch (this.mode) {
        case Mode.StringValue:
        case Mode.StringKey:
          i = this.readString(fragment, i);
          break;
        case Mode.Number: {
          const start = i;
          while (i < length && isNumberChar(fragment.charCodeAt(i))) i++;
          if (i > start) this.token += fragment.slice(start, i);
          if (i < length) this.endNumber(i);
          break;
        }
        case Mode.Literal: {
          const expected = LITERAL_TEXT[this.token[0]!]!;
          while (i < length && this.token.length < expected.length) {
            if (fragment[i] !== expected[this.token.length]) {
              this.fail(`Unexpected character ${JSON.stringify(fragment[i])}`, i);
              return;
            }
            this.token += fragment[i++];
          }
          if (this.token.length === expected.length) this.commit(LITERALS[this.token[0]!]);
          break;
        }
        default: {
          const code = fragment.charCodeAt(i);
          if (code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09) i += 1;
          else if (this.structural(fragment[i]!, i)) i += 1;
        }
      }
    }
    this.position += length;
    this.sinceRead += length;
  }

  /**
   * The best parse of the text so far: `undefined` until a value has begun to
   * show. Deeply frozen; unchanged containers keep their identity.
   */
  value(): unknown {
    if (this.readVersion === this.version) return this.readValue;
    this.sinceRead = 0;
    if (this.mode === Mode.Failed) return this.readValue;
    let child: unknown = this.mode === Mode.StringValue ? withoutLoneHighSurrogate(this.token) : undefined;
    for (let depth = this.stack.length - 1; depth >= 0; depth--) {
      const frame = this.stack[depth]!;
      if (frame.isArray) {
        const copy = (frame.items as unknown[]).slice();
        if (child !== undefined) copy.push(child);
        child = Object.freeze(copy);
      } else {
        const copy: Record<string, unknown> = { ...frame.items };
        if (child !== undefined && frame.key !== undefined && !frame.repeated) setOwn(copy, frame.key, child);
        child = Object.freeze(copy);
      }
    }
    this.readValue = this.stack.length > 0 ? child : this.mode === Mode.End ? this.root : child;
    this.readVersion = this.version;
    return this.readValue;
  }

  /**
   * The value to show now: the best parse (`value()`) when a fresh one is
   * due, else the last one read, which is a prefix of it. Reading copies the
   * containers still open; a read that copies n of their items is due once
   * n / 16 characters arrived since the last one (at once for small
   * documents, and always once the value is complete). So showing a value
   * after every fragment costs at most about 16 item copies per character,
   * however large an open array grows, where reading `value()` every time
   * copies the whole array every time.
   */
  current(): unknown {
    if (this.readVersion === this.version) return this.readValue;
    if (this.mode === Mode.End || this.mode === Mode.Failed || this.sinceRead * COPIES_PER_CHARACTER >= this.openItems()) return this.value();
    return this.readValue;
  }

  /** Items and keys held by the containers still open: what a fresh read copies. */
  private openItems(): number {
    let count = 0;
    for (const frame of this.stack) count += frame.isArray ? (frame.items as unknown[]).length : frame.size;
    return count;
  }

  /**
   * Ends the text: returns the whole value (what `JSON.parse` gives for the
   * text), or throws a `SyntaxError` when the text is not one JSON value.
   */
  finish(): unknown {
    if (this.mode === Mode.Number && this.stack.length === 0) this.endNumber(0);
    if (this.mode === Mode.Failed) throw this.failure!;
    if (this.mode !== Mode.End) throw new SyntaxError(`Unexpected end of JSON input at position ${this.position}`);
    return this.root;
  }

  private structural(char: string, i: number): boolean {
    const mode = this.mode;
    if (mode === Mode.End) return this.fail(`Unexpected non-whitespace character ${JSON.stringify(char)} after JSON`, i);
    if (mode === Mode.Colon) {
      if (char !== ':') return this.fail(`Expected ':' but got ${JSON.stringify(char)}`, i);
      this.mode = Mode.Value;
      return true;
    }
    if (mode === Mode.After) {
      const frame = this.stack[this.stack.length - 1]!;
      if (char === ',') this.mode = frame.isArray ? Mode.Value : Mode.Key;
      else if (char === (frame.isArray ? ']' : '}')) this.close();
      else return this.fail(`Expected ',' or '${frame.isArray ? ']' : '}'}' but got ${JSON.stringify(char)}`, i);
      return true;
    }
    if (mode === Mode.ObjectFirst || mode === Mode.Key) {
      if (char === '"') {
        this.mode = Mode.StringKey;
        this.token = '';
      } else if (char === '}' && mode === Mode.ObjectFirst) this.close();
      else return this.fail(`Expected a property name but got ${JSON.stringify(char)}`, i);
      return true;
    }
    // Mode.Value or Mode.ArrayFirst
    if (char === ']' && mode === Mode.ArrayFirst) this.close();
    else if (char === '"') {
      this.mode = Mode.StringValue;
      this.token = '';
      this.version++;
    } else if (char === '[' || char === '{') {
      if (this.stack.length >= this.maxDepth) return this.fail(`JSON nested deeper than ${this.maxDepth}`, i);
      const isArray = char === '[';
      this.stack.push({ isArray, items: isArray ? [] : {}, key: undefined, repeated: false, size: 0 });
      this.mode = isArray ? Mode.ArrayFirst : Mode.ObjectFirst;
      this.version++;
    } else if (char === '-' || (char >= '0' && char <= '9')) {
      this.mode = Mode.Number;
      this.token = char;
    } else if (char === 't' || char === 'f' || char === 'n') {
      this.mode = Mode.Literal;
      this.token = char;
    } else return this.fail(`Unexpected character ${JSON.stringify(char)}`, i);
    return true;
  }

  /** Reads string characters from `i`; returns where it stopped. */
  private readString(fragment: string, i: number): number {
    const length = fragment.length;
    while (i < length) {
      if (this.escape !== '') {
        this.escape += fragment[i++];
        if (!this.endEscape(i - 1)) return length;
        continue;
      }
      const start = i;
      let code = fragment.charCodeAt(i);
      // Plain characters: anything but '"', '\\' and control characters.
      while (code !== 0x22 && code !== 0x5c && code >= 0x20 && ++i < length) code = fragment.charCodeAt(i);
      if (i > start) {
        this.token += fragment.slice(start, i);
        if (this.mode === Mode.StringValue) this.version++;
        continue;
      }
      const char = fragment[i]!;
      if (char === '"') {
        i += 1;
        if (this.mode === Mode.StringKey) {
          const frame = this.stack[this.stack.length - 1]!;
          frame.key = this.token;
          frame.repeated = Object.hasOwn(frame.items, this.token);
          this.mode = Mode.Colon;
        } else this.commit(this.token, withoutLoneHighSurrogate(this.token) === this.token);
        return i;
      }
      if (char === '\\') {
        this.escape = '\\';
        i += 1;
        continue;
      }
      this.fail('Bad control character in string literal', i);
      return length;
    }
    return i;
  }

  /** Handles the escape sequence read so far; false after an error. */
  private endEscape(i: number): boolean {
    const sequence = this.escape;
    if (sequence.length === 2 && sequence[1] !== 'u') {
      const replacement = ESCAPES[sequence[1]!];
      if (replacement === undefined) return this.fail(`Bad escaped character ${JSON.stringify(sequence)}`, i);
      this.appendEscaped(replacement);
    } else if (sequence.length > 2) {
      if (!/[0-9a-fA-F]/.test(sequence[sequence.length - 1]!)) return this.fail('Bad Unicode escape', i);
      if (sequence.length === 6) this.appendEscaped(String.fromCharCode(parseInt(sequence.slice(2), 16)));
    }
    return true;
  }

  private appendEscaped(text: string): void {
    this.token += text;
    this.escape = '';
    if (this.mode === Mode.StringValue) this.version++;
  }

  private endNumber(i: number): void {
    if (!JSON_NUMBER.test(this.token)) {
      this.fail(`Bad number ${JSON.stringify(this.token)}`, i);
      return;
    }
    this.commit(Number(this.token));
  }

  /**
   * A complete value: into its container, or as the root. `shown` when the
   * value read already showed it as it is (a string whose last character
   * arrived, a container being closed): then the value read keeps its
   * identity.
   */
  private commit(value: unknown, shown = false): void {
    this.token = '';
    if (!shown) this.version++;
    const frame = this.stack[this.stack.length - 1];
    if (!frame) {
      this.root = value;
      this.mode = Mode.End;
      return;
    }
    if (frame.isArray) (frame.items as unknown[]).push(value);
    else if (!frame.repeated) {
      setOwn(frame.items as Record<string, unknown>, frame.key!, value);
      frame.size++;
    }
    frame.key = undefined;
    this.mode = Mode.After;
  }

  /** Closes the innermost container: it never changes again, so it is frozen as it is. */
  private close(): void {
    const frame = this.stack.pop()!;
    this.commit(Object.freeze(frame.items), true);
  }

  private fail(reason: string, i: number): false {
    // The value stays what the last good character showed: worked out now, kept from here on.
    this.value();
    this.failure = new SyntaxError(`${reason} in JSON at position ${this.position + i}`);
    this.mode = Mode.Failed;
    return false;
  }
}
