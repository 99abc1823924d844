import { tap, type Subscription } from 'rxjs';
import { HttpError, isRetryable } from '../errors.js';
import { accumulateContent } from '../operators/accumulateContent.js';
import { retryWithBackoff } from '../operators/retryWithBackoff.js';
import { untilDone } from '../operators/untilDone.js';
import { fromChatCompletion } from '../sources/fromChatCompletion.js';
import type { ChatCompletionSnapshot } from '../types.js';
import type { CliConfig } from './parseCliArgs.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** Where the tool writes, and how it learns of Ctrl-C. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Calls `listener` once on Ctrl-C; returns a function that stops listening. */
  onInterrupt(listener: () => void): () => void;
}

/** The endpoint to talk to: a real one with its key, or the embedded mock server. */
export interface Endpoint {
  baseURL: string;
  apiKey?: string;
}

/**
 * Streams one answer and resolves the process exit code. Text mode prints
 * only what each snapshot adds beyond the text already printed, so a retry
 * that regenerates the same text prints nothing twice; when it regenerates a
 * different text, a notice goes to stderr and the new answer starts on a new
 * line. `--json` prints every snapshot as one JSON line.
 */
export function runChat(config: CliConfig, endpoint: Endpoint, io: CliIo): Promise<number> {
  const messages = [...(config.system ? [{ role: 'system', content: config.system }] : []), { role: 'user', content: config.prompt }];
  let retries = 0;
  let printed = '';
  const print = (snapshot: ChatCompletionSnapshot) => {
    if (config.json) {
      const { id, model, content, reasoning, toolCalls, finishReason, usage } = snapshot;
      io.stdout.write(`${JSON.stringify({ id, model, content, reasoning, toolCalls, finishReason, usage })}\n`);
      return;
    }
    const { content } = snapshot;
    if (content.startsWith(printed)) {
      io.stdout.write(content.slice(printed.length));
      printed = content;
    } else if (!printed.startsWith(content)) {
      io.stderr.write('\n[the stream restarted with a different answer; it follows in full]\n');
      io.stdout.write(`\n${content}`);
      printed = content;
    }
  };
  return new Promise<number>((resolve) => {
    let subscription: Subscription | undefined;
    const finish = (code: number) => {
      stopListening();
      subscription?.unsubscribe();
      resolve(code);
    };
    const stopListening = io.onInterrupt(() => {
      io.stderr.write('\naborted\n');
      finish(EXIT.interrupted);
    });
    subscription = fromChatCompletion({
      baseURL: endpoint.baseURL,
      apiKey: endpoint.apiKey,
      idleTimeout: config.idleTimeout,
      body: { model: config.model, messages, stream_options: { include_usage: true } },
    })
      .pipe(
        untilDone(),
        accumulateContent(),
        tap(print),
        retryWithBackoff({
          maxRetries: config.maxRetries,
          onRetry: ({ attempt, delay, error }) => {
            retries = attempt;
            io.stderr.write(`\nretry ${attempt}/${config.maxRetries} in ${Math.round(delay)} ms: ${describe(error)}\n`);
          },
        }),
      )
      .subscribe({
        complete: () => {
          if (!config.json && printed !== '' && !printed.endsWith('\n')) io.stdout.write('\n');
          finish(EXIT.ok);
        },
        error: (error: unknown) => {
          const exhausted = isRetryable(error) && retries >= config.maxRetries && config.maxRetries > 0;
          io.stderr.write(`\nerror: ${exhausted ? `gave up after ${retries} retries: ` : ''}${describe(error)}\n`);
          finish(EXIT.failed);
        },
      });
  });
}

/** One line: the error without the library's source prefix, with the HTTP status first. */
export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const message = error.message.replace(/^fromChatCompletion: /, '').replace(/\s+/g, ' ').trim();
  return error instanceof HttpError ? message : `${error.name}: ${message}`;
}
