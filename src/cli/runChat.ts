import { tap, type Observable, type Subscription } from 'rxjs';
import { isRetryable } from '../errors.js';
import { accumulateContent } from '../operators/accumulateContent.js';
import { retryWithBackoff } from '../operators/retryWithBackoff.js';
import { untilDone } from '../operators/untilDone.js';
import { withDeadline } from '../operators/withDeadline.js';
import { fromChatCompletion } from '../sources/fromChatCompletion.js';
import { fromResponses } from '../sources/fromResponses.js';
import { streamStartOf } from '../streamStart.js';
import type { ChatCompletionChunk, ChatCompletionEvent, ChatCompletionSnapshot } from '../types.js';
import { createJsonPrinter, createTextPrinter } from './answerPrinters.js';
import type { ChatMessage } from '../requests/chatCompletionRequest.js';
import { describeError } from './describeError.js';
import { EXIT, type ExitCode } from './exitCodes.js';
import { createLineKeeper, type OutputStreams } from './lineKeeper.js';
import type { CliConfig } from './parseCliArgs.js';
import { stripControls } from './stripControls.js';

/** Where the tool writes, and how it learns that it must stop. */
export interface CliIo extends OutputStreams {
  /** Whether stdout is a terminal: the answer's control characters are then removed unless `--raw`. */
  stdoutIsTerminal: boolean;
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
 * `fromChatCompletion → untilDone → accumulateContent → retryWithBackoff → withDeadline`
 * (`fromResponses` with `--api responses`) and resolves the process exit
 * code (see `EXIT`).
 *
 * Text mode prints only what each snapshot adds beyond the text already
 * printed (the work per chunk is the chunk's size), so a retry that
 * regenerates the same text prints nothing twice; when it regenerates a
 * different text, a notice goes to stderr and the new answer starts on a new
 * line. On a terminal the answer's control characters and escape sequences
 * are removed unless `--raw`; in stderr's lines they always are. `--json`
 * prints one line per delta and the final snapshot last (see
 * `createJsonPrinter`). Each retry prints one line to stderr: attempt, delay
 * and cause; on a shared terminal it starts on its own line and the answer's
 * unfinished line is printed again after it.
 *
 * ```text
 * attempt 1:  --"Hel"--"Hello wo"--#  (drop)
 * attempt 2:  --"Hel"--"Hello wo"--"Hello world"--|
 * stdout:     --Hel----lo wo----------------------rld\n
 * stderr:     -------------------retry 1/3 in 812 ms: StreamInterruptedError: ...
 * ```
 *
 * With `--api responses --background`, the response id goes to stderr
 * (`response id: resp_...`, stripped of control characters) as soon as it is
 * known, and a retry after a drop resumes the response where it stopped: the
 * subscription's first chunk is marked `resumed: true`, so the answer goes on
 * with nothing printed or generated twice.
 *
 * ```text
 * attempt 1 (POST):                  --"Hel"--"Hello wo"--#  (drop)
 * attempt 2 (GET ?starting_after=N):  --"Hello wor"--"Hello world"--|
 * stdout:     --Hel----lo wo--------------r-------------ld\n
 * stderr:     response id: resp_1 ------retry 1/3 in 812 ms: NetworkError: ...
 * ```
 *
 * Ctrl-C unsubscribes (which aborts the request), prints `aborted` and
 * resolves 130; `--timeout` aborts and resolves 124; a stdout closed by its
 * reader unsubscribes quietly and resolves 0, and any other write error
 * resolves 1.
 *
 * @example
 * ```ts
 * const code = await runChat(config, { baseURL: 'https://api.openai.com/v1', apiKey }, io);
 * process.exitCode = code;
 * ```
 */
export async function runChat(config: CliConfig, endpoint: Endpoint, io: CliIo): Promise<ExitCode> {
  const messages: ChatMessage[] = [...(config.system ? [{ role: 'system' as const, content: config.system }] : []), { role: 'user', content: config.prompt }];
  const keeper = createLineKeeper(io);
  const printer = config.json ? createJsonPrinter(keeper) : createTextPrinter(keeper, io.stdoutIsTerminal && !config.raw);
  let retries = 0;
  let last: ChatCompletionSnapshot | undefined;
  let lastChunk: ChatCompletionChunk | undefined;
  /** Set on each (re)subscription: the next snapshot starts a new fold. */
  let newFold = true;
  // Built before any listener is attached: bad options throw here, and the promise rejects with nothing to clean up.
  const source: Observable<ChatCompletionEvent> =
    config.api === 'responses'
      ? fromResponses({
          baseURL: endpoint.baseURL,
          apiKey: endpoint.apiKey,
          idleTimeout: config.idleTimeout,
          body: {
            model: config.model,
            input: config.prompt,
            ...(config.system ? { instructions: config.system } : {}),
            ...(config.background ? { background: true, store: true } : {}),
          },
          // The id a later run (or the provider's dashboard) can pick the response up with; a server's text, so stripped.
          ...(config.background ? { onResponseId: (id: string) => keeper.line(`response id: ${printableId(id)}`, { resume: true }) } : {}),
        })
      : fromChatCompletion({
          baseURL: endpoint.baseURL,
          apiKey: endpoint.apiKey,
          idleTimeout: config.idleTimeout,
          body: { model: config.model, messages, stream_options: { include_usage: true } },
        });
  const answer$ = source.pipe(
    untilDone(),
    tap({
      subscribe: () => (newFold = true),
      next: (chunk) => {
        // A resumed response continues the fold: the printers go on from the chunk alone.
        if (streamStartOf(chunk)?.resumed === true) newFold = false;
        lastChunk = chunk;
      },
    }),
    accumulateContent(),
    tap((snapshot) => {
      last = snapshot;
      printer.next(snapshot, lastChunk, newFold);
      newFold = false;
    }),
    retryWithBackoff({
      maxRetries: config.maxRetries,
      onRetry: ({ attempt, delay, error }) => {
        retries = attempt;
        keeper.line(`retry ${attempt}/${config.maxRetries} in ${Math.round(delay)} ms: ${describeError(error)}`, { resume: true });
      },
    }),
    config.timeout > 0 ? withDeadline(config.timeout) : (source) => source,
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
      keeper.line('aborted');
      finish(EXIT.interrupted);
    });
    stopWatchingOutput = io.onOutputClosed((error) => {
      if ((error as { code?: unknown } | null)?.code === 'EPIPE') return finish(EXIT.ok);
      keeper.line(`error: cannot write the answer: ${describeError(error)}`);
      finish(EXIT.failed);
    });
    subscription = answer$.subscribe({
      complete: () => {
        printer.complete(last);
        const note = endNote(last);
        if (note) keeper.line(`note: ${note}`);
        finish(EXIT.ok);
      },
      error: (error: unknown) => {
        if ((error as Error | null)?.name === 'DeadlineExceededError') {
          keeper.line(`error: timed out: the answer did not complete within --timeout ${config.timeout} ms, so the request was aborted`);
          return finish(EXIT.timedOut);
        }
        const exhausted = isRetryable(error) && retries >= config.maxRetries && config.maxRetries > 0;
        keeper.line(`error: ${exhausted ? `gave up after ${retries} ${retries === 1 ? 'retry' : 'retries'}: ` : ''}${describeError(error)}`);
        const hint = missingKeyHint(error, config, endpoint);
        if (hint) keeper.line(`note: ${hint}`);
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
  if (snapshot.refusal !== '') return `the model refused: ${describeError(snapshot.refusal)}`;
  const reason = snapshot.finishReason;
  if (reason === 'length') return 'the answer was cut at the token limit (finish reason "length")';
  if (reason === 'content_filter') return 'the answer was cut by a content filter (finish reason "content_filter")';
  return undefined;
}

/** The longest response id printed, in characters (the library accepts ids of at most 512). */
const MAX_PRINTED_ID = 512;

/** A server-chosen id as one line: controls and escapes stripped, whitespace collapsed, capped. */
function printableId(id: string): string {
  const line = stripControls(id.slice(0, MAX_PRINTED_ID * 2)).replace(/\s+/g, ' ').trim();
  return line.length > MAX_PRINTED_ID ? `${line.slice(0, MAX_PRINTED_ID)}…` : line;
}

/**
 * A 401 or 403 from a server that got no key (a server on this machine, for
 * which a key is optional, or `--no-key`): says so, and how to give one.
 */
function missingKeyHint(error: unknown, config: CliConfig, endpoint: Endpoint): string | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  if ((error as Error | null)?.name !== 'HttpError' || (status !== 401 && status !== 403) || endpoint.apiKey !== undefined) return undefined;
  const why = config.noKey ? 'because of --no-key' : `because ${config.apiKeyEnv} is not set and the server is on this machine`;
  const other = config.apiKeyEnv === 'OPENAI_API_KEY' ? ' (or name another variable with --api-key-env)' : '';
  return `no API key was sent (${why}); this server wants one: set ${config.apiKeyEnv}${other}${config.noKey ? ' and leave out --no-key' : ''}.`;
}
