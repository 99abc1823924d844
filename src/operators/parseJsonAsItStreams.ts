import { concatWith, defer, EMPTY, filter, from, map, of, type Observable, type OperatorFunction } from 'rxjs';
import { SchemaValidationError, type SchemaIssue } from '../errors.js';
import { appendedOf, type Appended } from '../fold/foldAppended.js';
import { extended } from '../internal/extended.js';
import { PartialJsonParser } from '../json/partialJson.js';
import type { StandardSchemaV1 } from '../json/standardSchema.js';
import type { ChatCompletionSnapshot, ToolCallSnapshot } from '../types.js';

/** A value as far as it has streamed: every field optional, all the way down, and read-only. */
export type DeepPartial<T> = T extends readonly (infer Item)[]
  ? ReadonlyArray<DeepPartial<Item>>
  : T extends object
    ? { readonly [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** A tool call with the best parse of its arguments so far. */
export interface ParsedToolCall extends ToolCallSnapshot {
  /** The arguments parsed as far as they have streamed; `undefined` before any value shows or when they are not JSON. */
  readonly parsedArguments: unknown;
}

/**
 * A snapshot with the structured answer parsed as far as it has streamed. `T`
 * is the validated value's type (a schema's output); `Raw` what the text
 * holds (a schema's input: a field a schema transforms is still raw JSON
 * while it streams).
 */
export interface JsonSnapshot<T = unknown, Raw = T> extends Omit<ChatCompletionSnapshot, 'toolCalls'> {
  /** The tool calls of choice 0, each with `parsedArguments`. */
  readonly toolCalls: readonly ParsedToolCall[];
  /**
   * The answer (the content, or the arguments of the tool named in
   * `answerFrom`) parsed as far as it has streamed: `undefined` until a value
   * begins. It only grows: a field never changes type or disappears. Typed
   * with the schema's input: the JSON as it streams, before the schema ran.
   */
  readonly partial: DeepPartial<Raw> | undefined;
  /** Only on the value emitted when the stream completes, after the schema accepted the answer: its output. */
  readonly value?: T;
}

export interface ParseJsonAsItStreamsOptions<Schema extends StandardSchemaV1 = StandardSchemaV1> {
  /**
   * A Standard Schema (zod, valibot, arktype, ...). When given, the whole
   * answer is validated when the stream completes: on success one more value
   * is emitted, with `value` set to the schema's output; otherwise the stream
   * errors with `SchemaValidationError`. Default: none (parse only, emit
   * nothing at completion).
   */
  schema?: Schema | undefined;
  /**
   * Where the structured answer is: `'content'` (OpenAI `response_format`,
   * Gemini `responseSchema`) or `{ toolName }`, the first tool call of that
   * name (Anthropic forced tool). Default `'content'`.
   */
  answerFrom?: 'content' | { readonly toolName: string } | undefined;
  /** Makes `SchemaValidationError` retryable, so `retryWithBackoff` asks again. Default `false`. */
  retryOnMismatch?: boolean | undefined;
}

/**
 * Adds to every snapshot the best parse of the partial JSON so far: `partial`
 * for the answer and `parsedArguments` for each tool call. Objects and arrays
 * are closed, an unfinished string is kept as far as it goes, an unfinished
 * number, literal or key is left out, so the value only grows. Each string is
 * parsed incrementally: a snapshot costs the parse of its new text (plus a
 * shallow copy of the containers still open), never a re-parse of the whole.
 * The new text comes from the mark `accumulateContent` puts on each snapshot
 * (what its chunk appended), in any pipeline (behind `filter`, `share` or
 * `observeOn` too), so not even reading it touches the whole string. Restarts
 * are never guessed: a snapshot of a new fold (a fresh request) starts the
 * parse over; snapshots made elsewhere are compared in full with the text
 * parsed so far (so they cost in proportion to the text), and the parse
 * starts over unless the new text begins with the whole old one. Parsed values are deeply
 * frozen, and containers that did not change keep their identity.
 *
 * A snapshot is emitted only when it shows something new (a parse, a tool
 * call, a finish reason, usage or a refusal); one held back is emitted at
 * completion. `partial` is typed with the schema's input: it holds the JSON
 * before the schema ran.
 *
 * With a `schema`, the answer is validated when the stream completes: one
 * more value then carries the schema's output in `value`, or the stream
 * errors with `SchemaValidationError` (retryable only with
 * `retryOnMismatch`). Without one, an answer that began but is not one
 * complete JSON value errors the same way. Put `retryWithBackoff` after this operator for a
 * mismatch to ask again.
 *
 * ```text
 * snapshots:  --{"a--{"a":[1--{"a":[1,2]}--|
 * partial:    --{}----{a:[]}---{a:[1,2]}----|
 * with schema:                               (v|)   v.value = { a: [1, 2] }
 * mismatch:                                  #      SchemaValidationError
 * ```
 *
 * @example
 * ```ts
 * const Weather = z.object({ city: z.string(), days: z.array(z.object({ high: z.number() })) });
 * fromChatCompletion({ body: { model, messages, response_format: { type: 'json_schema', json_schema: { name: 'weather', schema } } } })
 *   .pipe(untilDone(), accumulateContent(), parseJsonAsItStreams({ schema: Weather }), retryWithBackoff())
 *   .subscribe(({ partial, value }) => render(value ?? partial));
 * ```
 */
export function parseJsonAsItStreams<Schema extends StandardSchemaV1>(
  options: ParseJsonAsItStreamsOptions<Schema> & { schema: Schema },
): OperatorFunction<ChatCompletionSnapshot, JsonSnapshot<StandardSchemaV1.InferOutput<Schema>, StandardSchemaV1.InferInput<Schema>>>;
export function parseJsonAsItStreams<T = unknown>(options?: ParseJsonAsItStreamsOptions): OperatorFunction<ChatCompletionSnapshot, JsonSnapshot<T>>;
export function parseJsonAsItStreams(options: ParseJsonAsItStreamsOptions = {}): OperatorFunction<ChatCompletionSnapshot, JsonSnapshot> {
  const { schema, answerFrom = 'content', retryOnMismatch = false } = validateOptions(options);
  return (source) =>
    defer(() => {
      const content = new StreamedJson();
      const calls: StreamedJson[] = [];
      let previousCalls: readonly ParsedToolCall[] = [];
      /** The last snapshot made, and the last one emitted (a snapshot that changes no parse is held back). */
      let last: JsonSnapshot | undefined;
      let emitted: JsonSnapshot | undefined;
      let answer: StreamedJson | undefined;
      /** The fold and chunk of the last snapshot, from its mark. */
      let fold: object | undefined;
      let chunk = 0;
      const withParses = map((snapshot: ChatCompletionSnapshot): JsonSnapshot => {
        const mark = appendedOf(snapshot);
        // Marked snapshots say whether they continue the last one (the same fold: texts only grow)
        // or start over (a new fold); unmarked ones are compared in full.
        const relation: Relation = mark === undefined ? 'unknown' : mark.fold === fold ? 'extends' : 'restart';
        // The mark holds the new text only for a consumer that saw the snapshot just before.
        const appended: Appended | undefined = relation === 'extends' && mark!.chunk === chunk + 1 ? mark : undefined;
        fold = mark?.fold;
        chunk = mark?.chunk ?? 0;
        const addedArguments = appended?.toolCalls;
        // When calls moved (one opened before open ones), a position may hold another call now.
        const callRelation: Relation = relation === 'extends' && appended !== undefined && addedArguments === undefined ? 'unknown' : relation;
        const toolCalls = snapshot.toolCalls.map((call, i) => {
          const added = addedArguments?.[i];
          const parsed = (calls[i] ??= new StreamedJson()).update(call.function.arguments, callRelation, typeof added === 'string' ? added : undefined);
          const before = previousCalls[i];
          return before && before.parsedArguments === parsed && sameCall(before, call) ? before : extended(call, { parsedArguments: parsed });
        });
        previousCalls = toolCalls;
        let partial: unknown;
        if (answerFrom === 'content') {
          answer = content;
          partial = content.update(snapshot.content, relation, appended?.content);
        } else {
          const i = snapshot.toolCalls.findIndex((call) => call.function.name === answerFrom.toolName);
          answer = i === -1 ? undefined : calls[i];
          partial = i === -1 ? undefined : toolCalls[i]!.parsedArguments;
        }
        last = extended(snapshot, { toolCalls, partial: partial as JsonSnapshot['partial'] });
        return last;
      });
      const whenChanged = filter((made: JsonSnapshot) => {
        if (emitted !== undefined && !parsesChanged(emitted, made)) return false;
        emitted = made;
        return true;
      });
      /** `last` with the latest parses, where the ones shown were older (a large open container is copied only now and then). */
      const latest = (made: JsonSnapshot | undefined): JsonSnapshot | undefined => {
        if (made === undefined) return undefined;
        let changed = false;
        const toolCalls = made.toolCalls.map((call, i) => {
          const newer = calls[i]?.newer();
          if (newer === undefined || newer === call.parsedArguments) return call;
          changed = true;
          return extended(call, { parsedArguments: newer });
        });
        let partial: unknown = made.partial;
        if (answerFrom === 'content') partial = content.newer() ?? made.partial;
        else {
          const i = made.toolCalls.findIndex((call) => call.function.name === answerFrom.toolName);
          if (i !== -1) partial = toolCalls[i]!.parsedArguments;
        }
        return changed || partial !== made.partial ? extended(made, { toolCalls, partial: partial as JsonSnapshot['partial'] }) : made;
      };
      const atEnd = defer(() => {
        last = latest(last);
        if (schema) return validate(schema, last, answer, retryOnMismatch);
        const unfinished = answer !== undefined && answer.began() ? notOneValue(answer, retryOnMismatch) : undefined;
        if (unfinished) return unfinished;
        return last !== undefined && last !== emitted ? of(last) : EMPTY;
      });
      return source.pipe(withParses, whenChanged, concatWith(atEnd));
    });
}

/**
 * How a text stands to the one parsed before: it extends it (a snapshot of
 * the same fold), it starts over (a new fold: a fresh request), or nobody
 * said (a snapshot made elsewhere: it is compared in full).
 */
type Relation = 'extends' | 'restart' | 'unknown';

/** One growing JSON text and its incremental parse. */
class StreamedJson {
  private parser = new PartialJsonParser();
  /** The text parsed so far (the snapshot's own string, not a copy). */
  private text = '';

  /**
   * Parses what `text` adds to the previous text and returns the best parse;
   * starts over when `text` does not extend it. `added`, when known, is what
   * was appended to the previous text to make `text`: then `text` itself is
   * not read (reading a string built by `+=` copies the whole of it). Nothing
   * is guessed: a text of unknown relation extends the previous one only if
   * it starts with the whole of it.
   */
  update(text: string, relation: Relation, added?: string): unknown {
    const length = this.text.length;
    if (added !== undefined && relation === 'extends' && length + added.length === text.length) {
      if (added !== '' && !this.parser.failed) this.parser.push(added);
      this.text = text;
      return this.parser.current();
    }
    const extendsText = relation === 'extends' ? text.length >= length : relation === 'unknown' && text.length >= length && text.startsWith(this.text);
    if (!extendsText) {
      this.parser = new PartialJsonParser();
      this.text = '';
    }
    const from = this.text.length;
    if (text.length > from && !this.parser.failed) this.parser.push(detached(text.slice(from)));
    this.text = text;
    return this.parser.current();
  }

  finish(): unknown {
    return this.parser.finish();
  }

  /** The latest parse when the one last shown is older (see `PartialJsonParser.current`); `undefined` when it is the latest. */
  newer(): unknown {
    const latest = this.parser.value();
    return latest === this.parser.current() && !this.parser.failed ? undefined : latest;
  }

  /** Whether anything but whitespace arrived. */
  began(): boolean {
    return this.parser.failed || this.parser.value() !== undefined || this.text.trim() !== '';
  }
}

/**
 * Whether `made` shows something `before` did not: a new parse of the answer
 * or of a call's arguments, a call opened or named, a finish reason, usage or
 * a refusal. Text that changes no parse (the digits of an unfinished number,
 * a key, whitespace, a closing quote) and reasoning alone are not a change.
 */
function parsesChanged(before: JsonSnapshot, made: JsonSnapshot): boolean {
  if (before.partial !== made.partial || before.finishReason !== made.finishReason || before.usage !== made.usage || before.refusal !== made.refusal) return true;
  const a = before.toolCalls;
  const b = made.toolCalls;
  if (a.length !== b.length) return true;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.parsedArguments !== y.parsedArguments || x.id !== y.id || x.function.name !== y.function.name) return true;
  }
  return false;
}

/** The error for an answer that is not one complete JSON value; `undefined` when it is one. */
function notOneValue(answer: StreamedJson, retryable: boolean): Observable<never> | undefined {
  try {
    answer.finish();
    return undefined;
  } catch (error) {
    const issue: SchemaIssue = { message: `not one complete JSON value (${(error as Error).message})` };
    return defer(() => {
      throw new SchemaValidationError([issue], undefined, retryable, { cause: error });
    });
  }
}

/**
 * A copy of `piece` that does not keep the string it was cut from alive. V8
 * represents a slice as a view of its parent; parsed values keep pieces of the
 * new text, so without the copy every snapshot's whole text would stay in memory.
 */
function detached(piece: string): string {
  return (' ' + piece).slice(1);
}

function sameCall(parsed: ParsedToolCall, call: ToolCallSnapshot): boolean {
  return parsed.id === call.id && parsed.index === call.index && parsed.function === call.function;
}

function validate(schema: StandardSchemaV1, last: JsonSnapshot | undefined, answer: StreamedJson | undefined, retryable: boolean): Observable<JsonSnapshot> {
  let whole: unknown;
  try {
    if (!last || !answer) throw new SyntaxError('the stream ended without an answer');
    whole = answer.finish();
  } catch (error) {
    const issue: SchemaIssue = { message: `not one complete JSON value (${(error as Error).message})` };
    return defer(() => {
      throw new SchemaValidationError([issue], undefined, retryable, { cause: error });
    });
  }
  const result = schema['~standard'].validate(whole);
  const outcome = result instanceof Promise ? from(result) : of(result);
  return outcome.pipe(
    map((checked) => {
      if (checked.issues) throw new SchemaValidationError(checked.issues, whole, retryable);
      return extended(last!, { partial: whole as JsonSnapshot['partial'], value: checked.value });
    }),
  );
}

function validateOptions(options: ParseJsonAsItStreamsOptions): ParseJsonAsItStreamsOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('parseJsonAsItStreams: options must be an object.');
  const { schema, answerFrom, retryOnMismatch } = options;
  if (schema !== undefined && typeof (schema as Partial<StandardSchemaV1>)?.['~standard']?.validate !== 'function') {
    throw new TypeError('parseJsonAsItStreams: schema must be a Standard Schema (zod 3.24+, valibot 1+, arktype 2+): it has no ~standard.validate.');
  }
  if (answerFrom !== undefined && answerFrom !== 'content' && (typeof answerFrom !== 'object' || answerFrom === null || typeof answerFrom.toolName !== 'string' || answerFrom.toolName === '')) {
    throw new TypeError("parseJsonAsItStreams: answerFrom must be 'content' or { toolName: 'a non-empty name' }.");
  }
  if (retryOnMismatch !== undefined && typeof retryOnMismatch !== 'boolean') throw new TypeError('parseJsonAsItStreams: retryOnMismatch must be a boolean.');
  return options;
}
