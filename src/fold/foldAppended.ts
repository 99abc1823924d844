/**
 * What one chunk appended to a snapshot, carried on the snapshot itself. An
 * operator after `accumulateContent` that reads the text as it grows (the
 * partial JSON parser) takes the new characters from here instead of slicing
 * them out of the snapshot's strings: those are built by `+=`, which V8 keeps
 * as a rope, and reading any part of a rope copies the whole string first. So
 * a consumer of the mark costs in proportion to the new text, not the document.
 *
 * The mark is a private field of the snapshot (see `AppendedMark`): it
 * travels wherever the snapshot goes, after the delivery, behind `observeOn`,
 * `share`, zone.js or any other asynchronous step, and nothing else sees it
 * (`JSON.stringify`, `Object.keys`, `Reflect.ownKeys`, spreads, deep
 * equality). It costs what a property in the snapshot's literal costs;
 * `Object.defineProperty` or a `WeakMap` entry per snapshot cost 0.5–3 µs.
 * A copy (`{ ...snapshot }`) has no mark: it is read as a snapshot made
 * elsewhere (the text is compared in full), never wrongly. The ESM and CJS
 * copies of the package share one way to put and read marks (`sharedAccess`),
 * so a mark made by one is read by the other.
 */
/** What the chunk that made a snapshot appended to the top-level (choice 0) texts of the snapshot before it. */
export interface Appended {
  /**
   * The fold that made the snapshot: the same object for every snapshot of
   * one response (also across a resumption), a new one when the fold starts
   * over (a fresh request).
   */
  readonly fold: object;
  /**
   * The count of chunks this fold has folded, this one included. The texts
   * below extend the snapshot of the same `fold` whose `chunk` is one less,
   * and nothing else: a consumer that did not see that one (a `filter` or
   * `auditTime` in between) must read the rest of the strings instead; within
   * one `fold`, texts only grow.
   */
  readonly chunk: number;
  readonly content: string;
  readonly reasoning: string;
  readonly refusal: string;
  /**
   * By position in `toolCalls`: what each call's `arguments` gained (`''` when
   * nothing). `undefined` when a call opened before calls already open
   * (an index lower than theirs), so the positions moved: read the whole
   * strings then.
   */
  readonly toolCalls: readonly string[] | undefined;
}

/**
 * A base class whose constructor returns the object it is given, so a
 * subclass's private field is added to that object (a plain snapshot), not
 * to a new instance.
 */
class Target {
  constructor(target: object) {
    return target as Target;
  }
}

/**
 * Puts a mark on a snapshot as a private field: invisible to everything but
 * this class (`Object.keys`, `Reflect.ownKeys`, `JSON.stringify`, spreads,
 * jest's `toEqual` and `util.isDeepStrictEqual` do not see it), as cheap to
 * add as a property in the literal, and kept by the object wherever it goes.
 */
class AppendedMark extends Target {
  readonly #mark: Appended;

  private constructor(target: object, mark: Appended) {
    super(target);
    this.#mark = mark;
  }

  static put(target: object, mark: Appended): void {
    new AppendedMark(target, mark);
  }

  static of(target: object): Appended | undefined {
    return #mark in target ? (target as AppendedMark).#mark : undefined;
  }
}

/** Puts and reads marks: one pair for every copy of the package. */
interface MarkAccess {
  readonly put: (target: object, mark: Appended) => void;
  readonly of: (target: object) => Appended | undefined;
}

/**
 * The ESM and CJS copies of the package share the first copy's pair (frozen,
 * on `globalThis` under a `Symbol.for` key), so a snapshot folded by one copy
 * has a mark the other can read. The pair holds no state: the mark is on the
 * snapshot.
 */
const ACCESS_KEY = Symbol.for('rxjs-llm-stream.appendedMarkAccess');
const access: MarkAccess = sharedAccess();

function sharedAccess(): MarkAccess {
  const holder = globalThis as { [ACCESS_KEY]?: Partial<MarkAccess> };
  const existing = holder[ACCESS_KEY];
  if (typeof existing === 'object' && existing !== null && typeof existing.put === 'function' && typeof existing.of === 'function') return existing as MarkAccess;
  const created: MarkAccess = Object.freeze({ put: AppendedMark.put, of: AppendedMark.of });
  Object.defineProperty(holder, ACCESS_KEY, { value: created });
  return created;
}

/** Marks `snapshot` with what its chunk appended. Once per snapshot, when it is made. */
export function putAppended(snapshot: object, mark: Appended): void {
  access.put(snapshot, mark);
}

/**
 * The `Appended` mark `accumulateContent` put on `snapshot`; `undefined` for
 * a snapshot made elsewhere or a copy.
 */
export function appendedOf(snapshot: unknown): Appended | undefined {
  if (typeof snapshot !== 'object' || snapshot === null) return undefined;
  const mark = access.of(snapshot) as Partial<Appended> | undefined;
  if (typeof mark !== 'object' || mark === null) return undefined;
  const { fold, chunk, content, reasoning, refusal, toolCalls } = mark;
  const valid =
    typeof fold === 'object' &&
    fold !== null &&
    typeof chunk === 'number' &&
    typeof content === 'string' &&
    typeof reasoning === 'string' &&
    typeof refusal === 'string' &&
    (toolCalls === undefined || Array.isArray(toolCalls));
  return valid ? (mark as Appended) : undefined;
}
