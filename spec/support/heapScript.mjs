// Run with --expose-gc by spec/resources.spec.ts: N sequential streams through
// the whole pipeline in one process; prints the heap after GC at the 1,000th
// and the last stream, in bytes.
import { lastValueFrom } from 'rxjs';
import { accumulateContent, fromChatCompletion, retryWithBackoff, untilDone } from 'rxjs-llm-stream';

const total = Number(process.argv[2] ?? 10_000);
const encoder = new TextEncoder();
const chunk = (content) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
const body = encoder.encode(Array.from({ length: 20 }, (_, i) => chunk(`token ${i} é 中 `)).join('') + 'data: [DONE]\n\n');
const fetch = async () =>
  new Response(
    new ReadableStream({
      start(controller) {
        controller.enqueue(body.subarray(0, 700));
        controller.enqueue(body.subarray(700));
        controller.close();
      },
    }),
    { headers: { 'content-type': 'text/event-stream' } },
  );

const heapAfterGc = () => {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
};

let baseline = 0;
let characters = 0;
for (let i = 1; i <= total; i++) {
  const snapshot = await lastValueFrom(
    fromChatCompletion({ baseURL: 'http://127.0.0.1:1', body: {}, fetch, idleTimeout: 60_000 }).pipe(untilDone(), accumulateContent(), retryWithBackoff()),
  );
  characters += snapshot.content.length;
  if (i === 1000) baseline = heapAfterGc();
}
const final = heapAfterGc();
process.stdout.write(`${JSON.stringify({ total, characters, baseline, final, growth: final - baseline })}\n`);
