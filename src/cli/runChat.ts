import { tap, type Subscription } from 'rxjs';
import { isRetryable } from '../errors.js';
import { accumulateContent } from '../operators/accumulateContent.js';
import { retryWithBackoff } from '../operators/retryWithBackoff.js';
import { untilDone } from '../operators/untilDone.js';
import { fromChatCompletion } from '../sources/fromChatCompletion.js';
import type { ChatCompletionSnapshot } from '../types.js';
import { describeError } from './describeError.js';
import { EXIT, type ExitCode } from './exitCodes.js';
import type { CliConfig } from './parseCliArgs.js';

/** Where the tool writes, and how it learns that it must stop. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Whether stdout and stderr show on one terminal, so a stderr line must not start in the middle of the answer's line. */
  sharedTerminal: boolean;
  /** Calls `listener` once on Ctrl-C; returns a function that stops listening. */
  onInterrupt(listener: () => void): () => void;
  /**
   * Calls `listener` once when writing to stdout fails: `EPIPE` when its
   * reader went away (`| head`), or a real write error. Returns a function
   * that stops listening.
   */
  onOutputClosed(listener: (error: unknown) => void): () => void;
}

/** The endpoint to talk to: a real one with its key, or the embedded mock server. */
export interface Endpoint {
  baseURL: string;
  apiKey?: string;
}

/**
 * Streams one answer through
 * `fromChatCompletion → untilDone → accumulateContent → retryWithBackoff`
 * and resolves the process exit code (see `EXIT`).
 *
 * Text mode prints only what each snapshot adds beyond the text already
 * printed, so a retry that regenerates the same text prints nothing twice;
 * when it regenerates a different text, a notice goes to stderr and the new
 * answer starts on a new line. `--json` prints every snapshot as one JSON
 * line. Each retry prints one line to stderr: attempt, delay and cause.
 *
 * ```text
 * attempt 1:  --"Hel"--"Hello wo"--#  (drop)
 * attempt 2:  --"Hel"--"Hello wo"--"Hello world"--|
 * stdout:     --Hel----lo wo----------------------rld\n
 * stderr:     -------------------retry 1/3 in 812 ms: StreamInterruptedError: ...
 * ```
 *
 * Ctrl-C unsubscribes (which aborts the request), prints `aborted` and
 * resolves 130; a stdout closed by its reader unsubscribes quietly and
 * resolves 0, and any other write error resolves 1.
 *
 * @example
 * ```ts
 * const code = await runChat(config, { baseURL: 'https://api.openai.com/v1', apiKey }, io);
 * process.exitCode = code;
 * ```
 */
export async function runChat(config: CliConfig, endpoint: Endpoint, io: CliIo): Promise<ExitCode> {
  const messages = [...(config.system ? [{ role: 'system', content: config.system }] : []), { role: 'user', content: config.prompt }];
  let retries = 0;
  let printed = '';
  let last: ChatCompletionSnapshot | undefined;
  /** Whether stdout's text stopped mid-line since the last line on stderr. */
  let midLine = false;
  /** A line break to put before a stderr line when the terminal's cursor is in the middle of the answer. */
  const lineBreak = () => {
    const gap = midLine && io.sharedTerminal ? '\n' : '';
    midLine = false;
    return gap;
  };
  const write = (text: string) => {
    io.stdout.write(text);
    midLine = !text.endsWith('\n');
  };
  const print = (snapshot: ChatCompletionSnapshot) => {
    last = snapshot;
    if (config.json) {
      const { id, model, content, reasoning, toolCalls, finishReason, usage } = snapshot;
      io.stdout.write(`${JSON.stringify({ id, model, content, reasoning, toolCalls, finishReason, usage })}\n`);
      return;
    }
    const { content } = snapshot;
    if (content.startsWith(printed)) {
      if (content.length > printed.length) write(content.slice(printed.length));
      printed = content;
    } else if (!printed.startsWith(content)) {
      restartWith(content);
    }
  };
  /** A retry generated a different text than the one printed: say so, and print the new one in full on a new line. */
  const restartWith = (content: string) => {
    io.stderr.write(`${lineBreak()}[the stream restarted with a different answer; it follows in full]\n`);
    write(`${printed.endsWith('\n') ? '' : '\n'}${content}`);
    printed = content;
  };
  // Built before any listener is attached: bad options throw here, and the promise rejects with nothing to clean up.
  const answer$ = fromChatCompletion({
    baseURL: endpoint.baseURL,
    apiKey: endpoint.apiKey,
    idleTimeout: config.idleTimeout,
    body: { model: config.model, messages, stream_options: { include_usage: true } },
  }).pipe(
    untilDone(),
    accumulateContent(),
    tap(print),
    retryWithBackoff({
      maxRetries: config.maxRetries,
      onRetry: ({ attempt, delay, error }) => {
        retries = attempt;
        io.stderr.write(`${lineBreak()}retry ${attempt}/${config.maxRetries} in ${Math.round(delay)} ms: ${describeError(error)}\n`);
      },
    }),
  );
  return new Promise<ExitCode>((resolve) => {
    let subscription: Subscription | undefined;
    let finished = false;
    let stopListening = () => {};
    let stopWatchingOutput = () => {};
    const finish = (code: ExitCode) => {
      if (finished) return;
      finished = true;
      stopListening();
      stopWatchingOutput();
      subscription?.unsubscribe();
      resolve(code);
    };
    stopListening = io.onInterrupt(() => {
      io.stderr.write(`${lineBreak()}aborted\n`);
      finish(EXIT.interrupted);
    });
    stopWatchingOutput = io.onOutputClosed((error) => {
      if ((error as { code?: unknown } | null)?.code === 'EPIPE') return finish(EXIT.ok);
      io.stderr.write(`${lineBreak()}error: cannot write the answer: ${describeError(error)}\n`);
      finish(EXIT.failed);
    });
    subscription = answer$.subscribe({
      complete: () => {
        // The last attempt's answer may be a strict prefix of what an earlier attempt printed.
        if (!config.json && last !== undefined && last.content !== printed) restartWith(last.content);
        if (!config.json && printed !== '' && !printed.endsWith('\n')) write('\n');
        const note = endNote(last);
        if (note) io.stderr.write(`${lineBreak()}note: ${note}\n`);
        finish(EXIT.ok);
      },
      error: (error: unknown) => {
        const exhausted = isRetryable(error) && retries >= config.maxRetries && config.maxRetries > 0;
        io.stderr.write(`${lineBreak()}error: ${exhausted ? `gave up after ${retries} ${retries === 1 ? 'retry' : 'retries'}: ` : ''}${describeError(error)}\n`);
        finish(EXIT.failed);
      },
    });
    // An end during `subscribe` itself ran `finish` before `subscription` was set.
    if (finished) subscription.unsubscribe();
  });
}

/** What a reader of the text should know about an answer that ended normally but not fully: a cut, a filter, a refusal. */
function endNote(snapshot: ChatCompletionSnapshot | undefined): string | undefined {
  if (!snapshot) return 'the stream ended without a single chunk';
  if (snapshot.refusal !== '') return `the model refused: ${snapshot.refusal.replace(/\s+/g, ' ').trim()}`;
  const reason = snapshot.finishReason;
  if (reason === 'length') return 'the answer was cut at the token limit (finish reason "length")';
  if (reason === 'content_filter') return 'the answer was cut by a content filter (finish reason "content_filter")';
  return undefined;
}
