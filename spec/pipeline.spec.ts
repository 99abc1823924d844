import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defer, lastValueFrom, map, type Observable } from 'rxjs';
import { fromChatCompletion } from '../src/sources/fromChatCompletion.js';
import { untilDone } from '../src/operators/untilDone.js';
import { accumulateContent } from '../src/operators/accumulateContent.js';
import { retryWithBackoff, type RetryEvent } from '../src/operators/retryWithBackoff.js';
import { markStreamStart } from '../src/streamStart.js';
import type { ChatCompletionEvent, ChatCompletionSnapshot } from '../src/types.js';
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

describe('a server that sends a new id on every chunk (llama.cpp, LiteLLM, foundry-local)', () => {
  /** The fixture's events, each with its blank line; ids chat.id.1, chat.id.2, ... */
  const EVENTS = readFileSync(join(__dirname, 'fixtures', 'id-per-chunk.sse'), 'utf8').split(/(?<=\n\n)/);
  const TEXT = 'The river runs on, é 中文 🚀 to the sea.';
  /** Where the first connection drops: after the role chunk and five words. */
  const DROP_AFTER = 6;

  let server: LoopbackServer;
  afterEach(async () => {
    await server?.close();
  });

  /** Request 0 gets the first events, then the connection drops; request 1 gets `second(EVENTS)`. */
  async function serveWithDrop(second: (events: string[]) => string[]) {
    server = await startLoopbackServer(async (_req, res) => {
      const attempt = server.requests.length - 1;
      sseHeaders(res);
      if (attempt > 0) return void res.end(second(EVENTS).join(''));
      res.write(EVENTS.slice(0, DROP_AFTER).join(''));
      await sleep(20);
      res.socket?.destroy();
    });
  }

  const source = () => fromChatCompletion({ baseURL: server.url, body: { model: 'local-model', messages: [] }, idleTimeout: 2000 });
  const retry = <T>() => retryWithBackoff<T>({ initialDelay: 5, maxRetries: 3 });
  const orders: Array<[string, (events: Observable<ChatCompletionEvent>) => Observable<ChatCompletionSnapshot>]> = [
    ['untilDone, accumulateContent, retryWithBackoff', (events) => events.pipe(untilDone(), accumulateContent(), retry())],
    ['untilDone, retryWithBackoff, accumulateContent', (events) => events.pipe(untilDone(), retry(), accumulateContent())],
  ];

  const contentsOf = (snapshots: Observable<ChatCompletionSnapshot>) =>
    new Promise<{ contents: string[]; last: ChatCompletionSnapshot }>((resolve, reject) => {
      const contents: string[] = [];
      let last: ChatCompletionSnapshot | undefined;
      snapshots.subscribe({
        next: (snapshot) => {
          contents.push(snapshot.content);
          last = snapshot;
        },
        error: reject,
        complete: () => resolve({ contents, last: last! }),
      });
    });

  it.each(orders)('ends with the exact text after a drop in the middle (%s)', async (_order, pipeline) => {
    await serveWithDrop((events) => events);
    const { contents, last } = await contentsOf(pipeline(source()));
    expect(last).toMatchObject({ id: 'chat.id.1', content: TEXT, finishReason: 'stop' });
    expect(contents.every((content) => TEXT.startsWith(content))).toBe(true);
    expect(contents).toContain(TEXT.slice(0, 'The river runs on, é '.length));
    expect(server.requests).toHaveLength(2);
  });

  it.each(orders)('continues a resumed stream to the exact text, never showing it from empty again (%s)', async (_order, pipeline) => {
    await serveWithDrop((events) => events.slice(DROP_AFTER));
    const token = {};
    let attempts = 0;
    const resumable = defer(() => {
      const resumed = attempts++ > 0;
      return source().pipe(map((event, index) => (index === 0 ? markStreamStart(event, { resumed, stream: token }) : event)));
    });
    const { contents, last } = await contentsOf(pipeline(resumable));
    expect(last).toMatchObject({ id: 'chat.id.1', content: TEXT, finishReason: 'stop' });
    expect(contents.every((content, k) => TEXT.startsWith(content) && (k === 0 || content.length >= contents[k - 1]!.length))).toBe(true);
    expect(attempts).toBe(2);
  });
});
