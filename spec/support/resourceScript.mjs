// Run as a child process by spec/resources.spec.ts: a completed stream, an
// HTTP error, an idle timeout, an unsubscribe and a retry cancelled during its
// backoff wait, against the mock server. It never calls process.exit: the
// process must end by itself, which proves nothing was left open.
import { lastValueFrom, toArray } from 'rxjs';
import { accumulateContent, fromChatCompletion, retryWithBackoff, untilDone } from 'rxjs-llm-stream';
import { startMockChatServer } from 'rxjs-llm-stream/testing';

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
const source = () => fromChatCompletion({ baseURL: `${server.url}/v1`, body: { model: 'm', messages: [] }, idleTimeout: 100 });
const outcomes = [];

const done = await lastValueFrom(source().pipe(untilDone(), accumulateContent()));
outcomes.push(`completed:${done.finishReason}`);
outcomes.push(await lastValueFrom(source().pipe(toArray())).catch((error) => `error:${error.name}`));
outcomes.push(await lastValueFrom(source().pipe(toArray())).catch((error) => `error:${error.name}`));

await new Promise((resolve) => {
  const subscription = source().subscribe({
    next: () => {
      subscription.unsubscribe();
      outcomes.push('unsubscribed');
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
process.stdout.write(`${JSON.stringify({ outcomes, requests, closedByClient: server.requests.map((r) => r.closedByClient) })}\n`);
