// Run as a child process by spec/resources.spec.ts: a completed stream, an
// HTTP error, an idle timeout, an unsubscribe and a retry cancelled during its
// backoff wait, against the mock server. It never calls process.exit: the
// process must end by itself, which proves nothing was left open.
import { lastValueFrom, toArray } from 'rxjs';
import { accumulateContent, fromChatCompletion, retryWithBackoff, untilDone } from 'rxjs-llm-stream';
import { startMockChatServer } from 'rxjs-llm-stream/testing';

const before = process.getActiveResourcesInfo();
const server = await startMockChatServer({
  script: (index) =>
    [
      {},
      { fault: { kind: 'status', status: 400 } },
      { fault: { kind: 'stall', afterChunks: 2 } },
      { paceMs: 20 },
      { fault: { kind: 'status', status: 503 } },
    ][index] ?? {},
});
// Only the stall needs a short idle timeout; the others get a long one, so a
// loaded machine cannot turn them into idle timeouts.
const source = (idleTimeout = 10_000) => fromChatCompletion({ baseURL: `${server.url}/v1`, body: { model: 'm', messages: [] }, idleTimeout });
const outcomes = [];

const done = await lastValueFrom(source().pipe(untilDone(), accumulateContent()));
outcomes.push(`completed:${done.finishReason}`);
outcomes.push(await lastValueFrom(source().pipe(toArray())).catch((error) => `error:${error.name}`));
outcomes.push(await lastValueFrom(source(100).pipe(toArray())).catch((error) => `error:${error.name}`));

await new Promise((resolve) => {
  const subscription = source().subscribe({
    next: () => {
      subscription.unsubscribe();
      outcomes.push('unsubscribed');
      resolve();
    },
    error: (error) => {
      outcomes.push(`unexpected:${error.name}`);
      resolve();
    },
  });
});

await new Promise((resolve) => {
  const subscription = source()
    .pipe(retryWithBackoff({ initialDelay: 300, jitter: 'none', onRetry: () => setTimeout(() => (subscription.unsubscribe(), resolve()), 20) }))
    .subscribe({ error: () => undefined });
});
outcomes.push('cancelled-during-backoff');

await new Promise((resolve) => setTimeout(resolve, 500));
const requests = server.requests.length;
await server.close();
await new Promise((resolve) => setImmediate(resolve));
const after = process.getActiveResourcesInfo();
process.stdout.write(`${JSON.stringify({ outcomes, requests, closedByClient: server.requests.map((r) => r.closedByClient), before, after })}\n`);
