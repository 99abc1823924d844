// The page's script: the core pipeline in a plain browser page, no framework.
// Bundled by check.mjs with esbuild (platform "browser"), so a Node-only import
// anywhere in the library's core would fail the build.
//
// Query string: ?api=http://127.0.0.1:PORT, the mock server's origin (another
// port, so the requests are cross-origin and go through CORS); default: this page's origin.
import { Subject, fromEvent, lastValueFrom, take, tap } from 'rxjs';
import {
  accumulateContent,
  fromChatCompletion,
  untilDone,
  withStreamStatus,
  type ChatCompletionSnapshot,
  type StreamState,
} from 'rxjs-llm-stream';

/** What the page reports for the check to read. */
interface RunReport {
  status: string;
  content: string;
  attempts: number;
  statuses: string[];
  error?: string;
}

declare global {
  interface Window {
    browserCheck?: { main?: RunReport; stop?: RunReport; error?: string };
  }
}

const api = new URLSearchParams(location.search).get('api') ?? location.origin;
const report: NonNullable<Window['browserCheck']> = {};
window.browserCheck = report;

const element = (id: string) => document.getElementById(id) as HTMLElement;

/** One user question, through the whole pipeline, shown as it streams. */
function ask(name: 'main' | 'stop', question: string, stop$?: Subject<void>): Promise<RunReport> {
  const status = element(`${name}-status`);
  const answer = element(`${name}-answer`);
  const log = document.getElementById(`${name}-log`);
  const statuses: string[] = [];
  const show = (state: StreamState<ChatCompletionSnapshot>) => {
    if (statuses[statuses.length - 1] !== state.status) statuses.push(state.status);
    status.dataset['status'] = state.status;
    status.textContent =
      state.status === 'retrying'
        ? `retrying in ${Math.round(state.retryInMs ?? 0)} ms (attempt ${state.attempt + 1} of ${state.maxAttempts})`
        : `${state.status} (attempt ${state.attempt} of ${state.maxAttempts})`;
    answer.textContent = state.snapshot?.content ?? '';
    if (log && state.status !== 'streaming') {
      const item = document.createElement('li');
      const error = state.error instanceof Error ? ` · ${state.error.name}: ${state.error.message}` : '';
      item.textContent = `${status.textContent}${error}`;
      log.append(item);
    }
  };

  const states$ = fromChatCompletion({
    baseURL: `${api}/v1`,
    apiKey: 'sk-browser-check-not-a-real-key',
    body: { model: 'mock-model', messages: [{ role: 'user', content: question }] },
    idleTimeout: 5000,
  }).pipe(
    untilDone(),
    accumulateContent(),
    withStreamStatus<ChatCompletionSnapshot>({
      retry: { initialDelay: 50, maxDelay: 500, maxRetries: 4 },
      errorsAsState: true,
      ...(stop$ ? { stop: stop$ } : {}),
    }),
    tap(show),
  );
  return lastValueFrom(states$).then((last) => ({
    status: last.status,
    content: last.snapshot?.content ?? '',
    attempts: last.attempt,
    statuses,
    ...(last.error instanceof Error ? { error: `${last.error.name}: ${last.error.message}` } : {}),
  }));
}

async function run(): Promise<void> {
  report.main = await ask('main', 'How do streams survive real networks?');

  // The stop button aborts the request (AbortController under the hood): the server sees the close.
  const button = element('stop') as HTMLButtonElement;
  const stop$ = new Subject<void>();
  fromEvent(button, 'click')
    .pipe(take(1))
    .subscribe(() => stop$.next());
  button.disabled = false;
  report.stop = await ask('stop', 'Tell me a very long story.', stop$);
  button.disabled = true;
}

run().catch((error: unknown) => {
  report.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
});
