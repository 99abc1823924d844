import { lastValueFrom, toArray } from 'rxjs';
import { accumulateContent, fromResponses, fromServerSentEvents, parseRelayedChunks, untilDone, withStreamStatus } from '../src/index.js';
import { startMockChatServer, type MockChatServer } from '../src/testing/index.js';
import { sseHeaders, startLoopbackServer, type LoopbackServer } from './support/loopbackServer';

/** `resuming` appears in withStreamStatus's own documented pipeline: source, untilDone, accumulateContent, withStreamStatus. */
describe('withStreamStatus shows resuming in its documented pipeline', () => {
  let server: MockChatServer | undefined;
  let loopback: LoopbackServer | undefined;
  afterEach(async () => {
    await server?.close();
    await loopback?.close();
  });

  it('fromResponses in the background, dropped and resumed', async () => {
    const text = 'Resumed: the text goes on.';
    server = await startMockChatServer({ scenario: { text, tokenSize: 3 }, script: [{ fault: { kind: 'drop', afterChunks: 5 } }, {}] });
    const states = await lastValueFrom(
      fromResponses({ baseURL: `${server.url}/v1`, body: { model: 'm', input: 'x', background: true, store: true } }).pipe(
        untilDone(),
        accumulateContent(),
        withStreamStatus({ retry: { initialDelay: 0, jitter: 'none' } }),
        toArray(),
      ),
    );
    const statuses = states.map((state) => state.status);
    expect(statuses).toContain('retrying');
    expect(statuses).toContain('resuming');
    const resumedAt = statuses.indexOf('resuming');
    expect(states[resumedAt]!.snapshot!.content.length).toBeGreaterThan(states[resumedAt - 2]!.snapshot?.content.length ?? 0);
    expect(states.at(-1)).toMatchObject({ status: 'done' });
    expect(states.at(-1)!.snapshot!.content).toBe(text);
  });

  it('a relay read with fromServerSentEvents, reconnected with Last-Event-ID', async () => {
    const chunk = (content: string) => JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] });
    loopback = await startLoopbackServer((request, response) => {
      sseHeaders(response);
      if (request.headers['last-event-id'] === '2') return void response.end(`id: 3\ndata: ${chunk('C')}\n\nevent: done\ndata: {}\n\n`);
      response.write(`id: 1\ndata: ${chunk('A')}\n\nid: 2\ndata: ${chunk('B')}\n\n`);
      setTimeout(() => response.socket?.destroy(), 30);
    });
    const states = await lastValueFrom(
      fromServerSentEvents({ url: `${loopback.url}/chat/1` }).pipe(
        parseRelayedChunks(),
        untilDone(),
        accumulateContent(),
        withStreamStatus({ retry: { initialDelay: 0, jitter: 'none' } }),
        toArray(),
      ),
    );
    expect(states.map((state) => state.status)).toContain('resuming');
    expect(states.at(-1)!.snapshot!.content).toBe('ABC');
  });
});
