/**
 * Keeping secrets and terminal control codes out of errors.
 *
 * Callers pass the RAW secret values they sent: the API key and the value of
 * every credential header (`Bearer sk-…`, `Basic dXNlcjpwYXNz`, a cookie).
 * Every form a server may echo is derived here, so a caller never has to:
 * - the value as sent and trimmed (fetch trims header values);
 * - the token after an auth scheme (`Bearer x` → `x`, `Token x`, `ApiKey x`);
 * - decoded Basic credentials: the `user:pass` pair and the password (the
 *   user name alone only when the password is empty, where it is the key);
 * - each of those with controls removed and whitespace runs collapsed, as
 *   they would read after {@link stripControls} and one-line formatting;
 * - JSON-escaped (`"` and `\`, `/` as `\/`, non-ASCII and `<>&'` as `\uXXXX`
 *   in either hex case), also escaped twice (JSON quoted inside JSON);
 * - URL-encoded (`encodeURIComponent`, RFC 3986 strict, `/` kept, form
 *   encoding with `+` for a space, either hex case).
 */

/** Secrets shorter than this are redacted only where they stand alone, not inside words. */
const SHORT_SECRET = 8;

/** What replaces a secret. */
export const REDACTED = '[redacted]';

/**
 * Terminal control sequences: CSI (`ESC [` or 0x9B, up to its final byte),
 * OSC/DCS/SOS/PM/APC strings (`ESC ]`, `ESC P`, ..., or their C1 forms, up
 * to BEL or ST, or to the end of the text when unterminated) and the other
 * two-character escapes.
 */
const TERMINAL_SEQUENCE =
  /(?:\x1b\[|\x9b)[\x20-\x3f]*[\x40-\x7e]?|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[\s\S]*?(?:\x07|\x1b\\|\x9c|$)|\x1b[\x20-\x2f]*[\x30-\x7e]?/g;
/** C0 controls except tab and line feed, DEL, and C1 controls. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/**
 * Removes terminal control sequences (ANSI/CSI, OSC such as window titles,
 * clipboard writes and links) and every C0/C1 control character except tab
 * and line feed (a CR or CRLF becomes a line feed), so a server's text cannot
 * act on a terminal or a log.
 */
export function stripControls(text: string): string {
  return text.replace(TERMINAL_SEQUENCE, '').replace(/\r\n?/g, '\n').replace(CONTROL, '');
}

/**
 * Strips control characters from `text` and replaces every form (see the
 * module comment) of each secret with `[redacted]`. `secrets` holds the raw
 * values as sent: the API key, credential header values.
 */
export function redact(text: string, secrets: readonly string[]): string {
  const stripped = stripControls(String(text));
  const pattern = secretPattern(secrets);
  return pattern === undefined ? stripped : stripped.replace(pattern, REDACTED);
}

/** Causes deeper than this are left off a rebuilt error. */
const MAX_CAUSE_DEPTH = 5;
/** An `AggregateError` keeps at most this many rebuilt errors. */
const MAX_AGGREGATED = 10;
/** The longest message or stack a rebuilt error keeps. */
const MAX_REBUILT_LENGTH = 4000;

/**
 * Rebuilds a thrown value (an `Error`, a string, a plain or axios-like object)
 * as a plain `Error` that holds only its redacted `name`, `message` and
 * `stack`, and likewise rebuilt `cause` (at most 5 levels) and, for an
 * `AggregateError`, `errors` (at most 10). Enumerable fields such as
 * `config.headers` are dropped, so neither `util.inspect` nor a walk of
 * the chain can reach a secret. `undefined` stays `undefined`.
 */
export function redactError(error: unknown, secrets: readonly string[], depth = 0): Error | undefined {
  if (error === undefined || depth >= MAX_CAUSE_DEPTH) return undefined;
  const { name, message, stack } = describeThrown(error, secrets);
  const cause = depth + 1 < MAX_CAUSE_DEPTH && hasField(error, 'cause') ? redactError(read(error, 'cause'), secrets, depth + 1) : undefined;
  const options = cause === undefined ? undefined : { cause };
  const errors = read(error, 'errors');
  const copy = Array.isArray(errors)
    ? new AggregateError(
        errors.slice(0, MAX_AGGREGATED).map((inner: unknown) => redactError(inner, secrets, depth + 1) ?? new Error('(nested too deep)')),
        message,
        options,
      )
    : new Error(message, options);
  Object.defineProperty(copy, 'name', { value: name, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(copy, 'stack', { value: stack, writable: true, configurable: true, enumerable: false });
  return copy;
}

function describeThrown(error: unknown, secrets: readonly string[]): { name: string; message: string; stack: string } {
  const isObject = (typeof error === 'object' && error !== null) || typeof error === 'function';
  const rawName = isObject ? read(error, 'name') : undefined;
  const rawMessage = isObject ? read(error, 'message') : error;
  const name = typeof rawName === 'string' && rawName !== '' ? clip(redact(rawName.replace(/\s+/g, ' '), secrets)) : 'Error';
  let message: string;
  if (typeof rawMessage === 'string') message = clip(redact(rawMessage, secrets));
  else if (!isObject && (typeof error === 'number' || typeof error === 'boolean' || typeof error === 'bigint' || error === null)) {
    message = `A non-error value was thrown: ${String(error)}`;
  } else message = `A non-error value was thrown (${isObject ? 'an object' : typeof error}).`;
  const rawStack = error instanceof Error ? read(error, 'stack') : undefined;
  const stack = typeof rawStack === 'string' && rawStack !== '' ? clip(redact(rawStack, secrets)) : `${name}: ${message}`;
  return { name, message, stack };
}

/** A property read that survives hostile getters and proxies. */
function read(value: unknown, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function hasField(value: unknown, key: string): boolean {
  try {
    return ((typeof value === 'object' && value !== null) || typeof value === 'function') && key in (value as object);
  } catch {
    return false;
  }
}

function clip(text: string): string {
  return text.length > MAX_REBUILT_LENGTH ? `${text.slice(0, MAX_REBUILT_LENGTH)}…` : text;
}

/**
 * Patterns by the secrets array they were built from, checked against its
 * contents in case it changed; held weakly, so no secret outlives its request.
 */
const patterns = new WeakMap<readonly string[], { contents: string; pattern: RegExp | undefined }>();

/** One regular expression matching every form of every secret, longest first. */
function secretPattern(secrets: readonly string[]): RegExp | undefined {
  if (secrets.length === 0) return undefined;
  const contents = JSON.stringify(secrets);
  const cached = patterns.get(secrets);
  if (cached?.contents === contents) return cached.pattern;
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret === 'string') for (const form of secretForms(secret)) forms.add(form);
  }
  forms.delete('');
  const sorted = [...forms].sort((a, b) => b.length - a.length);
  // A short form (a test key such as `k`) is replaced only where it stands
  // alone, not inside a word, so a message stays readable instead of losing every letter k.
  const alternative = (form: string) =>
    form.length >= SHORT_SECRET ? escapeRegExp(form) : `(?<![\\w-])${escapeRegExp(form)}(?![\\w-])`;
  const pattern = sorted.length === 0 ? undefined : new RegExp(sorted.map(alternative).join('|'), 'g');
  patterns.set(secrets, { contents, pattern });
  return pattern;
}

/** Every form in which a server may echo `secret` (see the module comment). */
export function secretForms(secret: string): string[] {
  const bases = new Set<string>();
  for (const value of [secret, secret.replace(/^[ \t]+|[ \t]+$/g, ''), secret.trim()]) {
    bases.add(value);
    for (const part of credentialParts(value.trim())) bases.add(part);
  }
  for (const base of [...bases]) {
    const stripped = stripControls(base);
    bases.add(base.trim());
    bases.add(stripped);
    bases.add(stripped.replace(/\s+/g, ' ').trim());
  }
  const forms = new Set<string>();
  for (const base of bases) {
    if (base === '') continue;
    forms.add(base);
    for (const escaped of jsonForms(base)) {
      forms.add(escaped);
      forms.add(jsonEscape(escaped, NO_OPTIONS));
      forms.add(jsonEscape(escaped, { ...NO_OPTIONS, slash: true }));
    }
    for (const encoded of urlForms(base)) forms.add(encoded);
  }
  return [...forms];
}

/** `Scheme token` → the token; `Basic base64(user:pass)` → also `user:pass` and the password. */
function credentialParts(value: string): string[] {
  const match = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)[ \t]+([\s\S]+)$/.exec(value);
  if (!match) return [];
  const token = match[2]!.trim();
  const parts = [token];
  if (match[1]!.toLowerCase() === 'basic') {
    const pair = decodeBase64(token);
    if (pair !== undefined && pair !== '') {
      parts.push(pair);
      const colon = pair.indexOf(':');
      if (colon !== -1) {
        const password = pair.slice(colon + 1);
        parts.push(password !== '' ? password : pair.slice(0, colon));
      }
    }
  }
  return parts;
}

function decodeBase64(token: string): string | undefined {
  try {
    const binary = atob(token.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    return new TextDecoder().decode(bytes);
  } catch {
    return undefined;
  }
}

interface JsonOptions {
  /** `/` as `\/` (PHP, some Java encoders). */
  slash: boolean;
  /** Every non-ASCII code unit as `\uXXXX` (Python's `ensure_ascii`, PHP). */
  ascii: boolean;
  /** `<`, `>`, `&`, `'`, U+2028 and U+2029 as `\uXXXX` (Go, some HTML-safe encoders). */
  html: boolean;
  /** Upper-case hex digits in `\uXXXX`. */
  upper: boolean;
}

const NO_OPTIONS: JsonOptions = { slash: false, ascii: false, html: false, upper: false };

function jsonForms(text: string): Set<string> {
  const forms = new Set<string>();
  for (const slash of [false, true]) {
    for (const ascii of [false, true]) {
      for (const html of [false, true]) {
        for (const upper of [false, true]) forms.add(jsonEscape(text, { slash, ascii, html, upper }));
      }
    }
  }
  return forms;
}

const SHORT_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `text` as it reads inside a JSON string literal, without the quotes. */
function jsonEscape(text: string, { slash, ascii, html, upper }: JsonOptions): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    const code = text.charCodeAt(i);
    const unicode = () => {
      const hex = code.toString(16).padStart(4, '0');
      return `\\u${upper ? hex.toUpperCase() : hex}`;
    };
    if (SHORT_ESCAPES[char] !== undefined) out += SHORT_ESCAPES[char];
    else if (code < 0x20) out += unicode();
    else if (char === '/' && slash) out += '\\/';
    else if (html && (char === '<' || char === '>' || char === '&' || char === "'" || code === 0x2028 || code === 0x2029)) out += unicode();
    else if (code > 0x7e && (ascii || isLoneSurrogate(text, i))) out += unicode();
    else out += char;
  }
  return out;
}

function isLoneSurrogate(text: string, i: number): boolean {
  const code = text.charCodeAt(i);
  if (code >= 0xd800 && code <= 0xdbff) {
    const next = text.charCodeAt(i + 1);
    return !(next >= 0xdc00 && next <= 0xdfff);
  }
  if (code >= 0xdc00 && code <= 0xdfff) {
    const previous = text.charCodeAt(i - 1);
    return !(previous >= 0xd800 && previous <= 0xdbff);
  }
  return false;
}

function urlForms(text: string): Set<string> {
  const forms = new Set<string>();
  let component: string;
  try {
    component = encodeURIComponent(text);
  } catch {
    return forms; // a lone surrogate cannot be percent-encoded
  }
  const strict = component.replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
  for (const encoded of [component, strict]) {
    for (const slashKept of [encoded, encoded.replace(/%2F/g, '/')]) {
      for (const spaced of [slashKept, slashKept.replace(/%20/g, '+')]) {
        forms.add(spaced);
        forms.add(spaced.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()));
      }
    }
  }
  return forms;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
