import { lastValueFrom, type Observable } from 'rxjs';
import { fromChatCompletion } from '../src/sources/fromChatCompletion.js';
import { untilDone } from '../src/operators/untilDone.js';
import { accumulateContent } from '../src/operators/accumulateContent.js';
import { retryWithBackoff, type RetryEvent } from '../src/operators/retryWithBackoff.js';
import type { ChatCompletionSnapshot } from '../src/types.js';
import { sleep, sseHeaders, startLoopbackServer, type LoopbackServer } from './support/loopbackServer.js';

const ANSWER = ['Ré', 'sumé: ', '中文 ', 'and ', '🚀', ' done.'];
const TOOL_ARGS = ['{"city"', ':"Oslo', '"}'];

/** One full generation with its own id: text, a tool call, a finish chunk, usage and [DONE]. */
function generation(id: string): string[] {
  const event = (payload: object) => `data: ${JSON.stringify({ id, model: 'm', ...payload })}\n\n`;
  return [
    event({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }),
    ...ANSWER.map((content) => event({ choices: [{ index: 0, delta: { content }, finish_reason: null }] })),
    event({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: '' } }] }, finish_reason: null }] }),
    ...TOOL_ARGS.map((args) => event({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: args } }] }, finish_reason: null }] })),
    event({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }),
    event({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 } }),
    'data: [DONE]\n\n',
  ];
}

type Fault = 'drop' | 'drop-mid-character' | 'status-429' | 'stall' | 'cut' | 'ok';

describe('the pipeline through faults', () => {
  let server: LoopbackServer;
  afterEach(async () => {
    await server?.close();
  });

  /** Answers request k with faults[k] (then 'ok'); each request is a new generation id. */
  async function serve(faults: Fault[]) {
    server = await startLoopbackServer(async (_req, res) => {
      const attempt = server.requests.length - 1;
      const fault = faults[attempt] ?? 'ok';
      const events = generation(`chatcmpl-${attempt}`);
      if (fault === 'status-429') {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': '30' });
        res.end(JSON.stringify({ error: { message: 'slow down' } }));
        return;
      }
      sseHeaders(res);
      const half = events.slice(0, 4).join('');
      if (fault === 'drop') {
        res.write(half);
        await sleep(10);
        res.socket?.destroy();
      } else if (fault === 'drop-mid-character') {
        const bytes = Buffer.from(half + events[4]!, 'utf8');
        const rocket = bytes.indexOf(Buffer.from('🚀'));
        res.write(bytes.subarray(0, rocket + 2));
        await sleep(10);
        res.socket?.destroy();
      } else if (fault === 'stall') {
        res.write(half);
      } else if (fault === 'cut') {
        res.end(half);
      } else {
        res.end(events.join(''));
      }
    });
  }

  const source = () =>
    fromChatCompletion({ baseURL: `${server.url}/v1`, apiKey: 'sk-pipeline', body: { model: 'm', messages: [] }, idleTimeout: 200 });
  const fast = <T>(retries: RetryEvent[]) => retryWithBackoff<T>({ initialDelay: 5, maxRetries: 6, onRetry: (event) => retries.push(event) });

  const orders: Array<[string, (retries: RetryEvent[]) => Observable<ChatCompletionSnapshot>]> = [
    ['untilDone, accumulateContent, retryWithBackoff', (retries) => source().pipe(untilDone(), accumulateContent(), fast(retries))],
    ['untilDone, retryWithBackoff, accumulateContent', (retries) => source().pipe(untilDone(), fast(retries), accumulateContent())],
  ];

  describe.each(orders)('%s', (_order, pipeline) => {
    it('ends with exactly one generation after a drop, a cut mid-character, a 429, a stall and a cut stream', async () => {
      const faults: Fault[] = ['drop', 'drop-mid-character', 'status-429', 'stall', 'cut'];
      await serve(faults);
      const retries: RetryEvent[] = [];
      const last = await lastValueFrom(pipeline(retries));
      expect(last.content).toBe(ANSWER.join(''));
      expect(last.toolCalls).toEqual([{ index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: TOOL_ARGS.join('') } }]);
      expect(last.finishReason).toBe('tool_calls');
      expect(last.usage).toEqual({ prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 });
      expect(last.id).toBe(`chatcmpl-${faults.length}`);
      expect(server.requests).toHaveLength(faults.length + 1);
      expect(retries.map((retry) => (retry.error as Error).name)).toEqual([
        'NetworkError',
        'NetworkError',
        'HttpError',
        'IdleTimeoutError',
        'StreamInterruptedError',
      ]);
      expect(retries[2]!.delay).toBeGreaterThanOrEqual(30);
    });

    it('never shows text of two generations in one snapshot', async () => {
      await serve(['drop', 'cut']);
      const contents: string[] = [];
      await new Promise<void>((resolve, reject) =>
        pipeline([]).subscribe({ next: (snapshot) => contents.push(snapshot.content), complete: resolve, error: reject }),
      );
      const full = ANSWER.join('');
      expect(contents.every((content) => full.startsWith(content))).toBe(true);
      expect(contents.at(-1)).toBe(full);
    });

    it('does not retry a 401 and never logs', async () => {
      server = await startLoopbackServer((_req, res) => {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"Invalid key"}}');
      });
      const spies = (['log', 'error', 'warn', 'info', 'debug'] as const).map((method) => jest.spyOn(console, method));
      try {
        await expect(lastValueFrom(pipeline([]))).rejects.toMatchObject({ name: 'HttpError', status: 401 });
        expect(server.requests).toHaveLength(1);
        for (const spy of spies) expect(spy).not.toHaveBeenCalled();
      } finally {
        for (const spy of spies) spy.mockRestore();
      }
    });
  });
});
