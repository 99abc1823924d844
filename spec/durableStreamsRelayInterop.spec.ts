import { stream as readWithReferenceClient } from '@durable-streams/client';
import { DurableStreamTestServer } from '@durable-streams/server';
import { concatMap, delay, from, lastValueFrom, of, toArray } from 'rxjs';
import { accumulateContent } from '../src/operators/accumulateContent';
import { parseRelayedChunks, type RelayedEvent } from '../src/operators/parseRelayedChunks';
import { retryWithBackoff } from '../src/operators/retryWithBackoff';
import { untilDone } from '../src/operators/untilDone';
import { createRelay, durableStreamsRelayStore, memoryRelayStore, writeDurableStreams, type RelayStore } from '../src/server/index';
import { fromDurableStream } from '../src/sources/fromDurableStream';
import type { ChatCompletionChunk } from '../src/types';
import { serveOnLoopback } from './support/loopbackServer';

jest.setTimeout(60_000);

// createRelay produces (as in production), the Durable Streams route serves, and both the protocol's own
// client and fromDurableStream read: with the relay's logs in memory, and kept on the reference server.
const WORDS = Array.from({ length: 20 }, (_, i) => `x${i}é `);
const chunks: ChatCompletionChunk[] = WORDS.map((text) => ({ id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: { content: text }, finish_reason: null }] }));

let reference: DurableStreamTestServer;
beforeAll(async () => {
  reference = new DurableStreamTestServer({ port: 0, host: '127.0.0.1', compression: false, longPollTimeout: 5_000 });
  await reference.start();
});
afterAll(async () => {
  await reference.stop();
});

async function serve(store: RelayStore): Promise<{ url: string; close(): Promise<void> }> {
  return serveOnLoopback((request, response) => {
    const id = new URL(request.url ?? '/', 'http://x').pathname.replace(/^\/streams\//, '');
    void writeDurableStreams(request, response, { store, streamId: id });
  });
}

describe.each([
  ['memoryRelayStore', () => memoryRelayStore()],
  ['durableStreamsRelayStore on @durable-streams/server', () => durableStreamsRelayStore({ baseUrl: `${reference.url}/v1/stream/` })],
])('createRelay on %s, read through the Durable Streams route', (_name, makeStore) => {
  it('@durable-streams/client and fromDurableStream both read the answer exact, while it is produced', async () => {
    const store = makeStore();
    const relay = createRelay({ store });
    const endpoint = await serve(store);
    try {
      const id = `interop-${Date.now()}`;
      const answer$ = from(chunks).pipe(concatMap((chunk) => of(chunk).pipe(delay(10))));
      expect(await relay.start(id, answer$)).toBe(true);
      const byReferenceClient = (async () => {
        const response = await readWithReferenceClient<RelayedEvent>({ url: `${endpoint.url}/streams/${id}`, live: true });
        const reader = response.jsonStream().getReader();
        const items: RelayedEvent[] = [];
        for (let i = 0; i < 1_000; i++) {
          const { done, value } = await reader.read();
          if (done) break;
          items.push(value);
        }
        return items;
      })();
      const byOurs = lastValueFrom(
        fromDurableStream<RelayedEvent>({ url: `${endpoint.url}/streams/${id}` }).pipe(parseRelayedChunks(), untilDone(), retryWithBackoff(), accumulateContent(), toArray()),
      );
      const [items, snapshots] = await Promise.all([byReferenceClient, byOurs]);
      expect(items.map((item) => item.data)).toEqual([...chunks.map((chunk) => JSON.stringify(chunk)), '[DONE]']);
      expect(items.at(-1)!.event).toBe('done');
      expect(snapshots.at(-1)!.content).toBe(WORDS.join(''));
    } finally {
      await relay.close({ drainMs: 0 });
      await endpoint.close();
      await store.close?.();
    }
  });
});
