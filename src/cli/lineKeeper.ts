/** The two streams the CLI writes to. */
export interface OutputStreams {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Whether stdout and stderr end up on one stream (one terminal, or `2>&1`). */
  sharedTerminal: boolean;
}

/** Writes the answer and the lines about it so that neither cuts into the other. */
export interface LineKeeper {
  /** Writes a piece of the answer to stdout. */
  answer(text: string): void;
  /**
   * Writes `line` and a line break to stderr, starting on a line of its own:
   * on a shared stream whose cursor is in the middle of the answer's line, a
   * line break goes first. With `resume`, the answer's unfinished line is
   * then written again, so the answer goes on with no word cut in two.
   */
  line(text: string, options?: { resume?: boolean }): void;
  /** Whether stdout's last character is not a line break. */
  answerEndsMidLine(): boolean;
  /** Whether text written to stdout now would continue a line instead of starting one. */
  cursorMidLine(): boolean;
}

/**
 * Keeps the answer and stderr's lines apart on a shared terminal. Tracks the
 * unfinished line of the answer (as pieces, never re-reading the answer), so
 * that after a retry line the answer resumes with that line in full.
 *
 * ```text
 * answer("The quick bro"); line("retry 1/3 ...", { resume: true }); answer("wn fox")
 * shared terminal:  The quick bro\nretry 1/3 ...\nThe quick brown fox
 * separate streams: stdout "The quick brown fox", stderr "retry 1/3 ...\n"
 * ```
 *
 * @example
 * ```ts
 * const keeper = createLineKeeper(io);
 * keeper.answer(piece);
 * keeper.line(`retry ${attempt}/${max} ...`, { resume: true });
 * ```
 */
export function createLineKeeper(streams: OutputStreams): LineKeeper {
  let endsMidLine = false;
  let cursorMidLine = false;
  /** The answer's text after its last line break. */
  let unfinished = '';
  return {
    answer(text) {
      if (text === '') return;
      streams.stdout.write(text);
      const lastBreak = text.lastIndexOf('\n');
      unfinished = lastBreak === -1 ? unfinished + text : text.slice(lastBreak + 1);
      endsMidLine = unfinished !== '';
      cursorMidLine = endsMidLine;
    },
    line(text, { resume = false } = {}) {
      streams.stderr.write(`${streams.sharedTerminal && cursorMidLine ? '\n' : ''}${text}\n`);
      cursorMidLine = false;
      if (resume && streams.sharedTerminal && unfinished !== '') {
        streams.stdout.write(unfinished);
        cursorMidLine = true;
      }
    },
    answerEndsMidLine: () => endsMidLine,
    cursorMidLine: () => (streams.sharedTerminal ? cursorMidLine : endsMidLine),
  };
}
