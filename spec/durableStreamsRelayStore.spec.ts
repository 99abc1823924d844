import { DurableStreamTestServer } from '@durable-streams/server';
import { durableStreamsRelayStore } from '../src/server/durableStreamsRelayStore';
import { describeRelayStoreContract } from './support/relayStoreContract';

// The relay's store contract (written for the memory and Redis stores), run against a RelayStore
// kept on the reference Durable Streams server.
let server: DurableStreamTestServer;
beforeAll(async () => {
  server = new DurableStreamTestServer({ port: 0, host: '127.0.0.1', compression: false, longPollTimeout: 5_000 });
  await server.start();
});
afterAll(async () => {
  await server.stop();
});

describeRelayStoreContract('durableStreamsRelayStore on @durable-streams/server', () => durableStreamsRelayStore({ baseUrl: `${server.url}/v1/stream/` }));

describe('durableStreamsRelayStore: two relay instances on one Durable Streams server', () => {
  // Long enough that a loaded machine does not lapse a lease between a claim and its first append; b waits it out.
  const claimOptions = { leaseMs: 2_000, ttlMs: 60_000 };
  it('the takeover is the protocol\u2019s producer epoch: the server itself refuses the earlier producer (403), and both instances fold the same log', async () => {
    const a = durableStreamsRelayStore({ baseUrl: `${server.url}/v1/stream/` });
    const b = durableStreamsRelayStore({ baseUrl: `${server.url}/v1/stream/` });
    const streamId = `two-instances-${Date.now()}`;
    const first = await a.claim(streamId, claimOptions);
    if (first.status !== 'created') throw new Error(first.status);
    await a.append(first.lease, [{ data: 'one' }, { data: 'two' }], 'r1');
    // Instance a stops renewing (killed); b takes the log over once the lease lapsed.
    let second: Awaited<ReturnType<typeof b.claim>> = { status: 'held' };
    for (let i = 0; i < 200 && second.status === 'held'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      second = await b.claim(streamId, claimOptions);
    }
    expect(second).toMatchObject({ status: 'takenOver', lastSeq: 2, resume: 'r1', lease: { epoch: 2, log: first.lease.log } });
    const lease = (second as { lease: typeof first.lease }).lease;
    await b.append(lease, [{ data: 'three' }]);
    await expect(a.append(first.lease, [{ data: 'zombie' }])).rejects.toMatchObject({ name: 'RelayLeaseLostError' });
    // The fencing is the server's, not only the store's: a write with the old producer epoch is refused.
    const zombie = await fetch(`${server.url}/v1/stream/rxjs-llm-stream-relay-${streamId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'producer-id': `rxjs-llm-stream-relay:${first.lease.log}`, 'producer-epoch': '1', 'producer-seq': '5' },
      body: JSON.stringify([{ t: 'append', at: Date.now(), epoch: 1, events: [{ data: 'zombie' }] }]),
    });
    expect(zombie.status).toBe(403);
    expect(zombie.headers.get('producer-epoch')).toBe('2');
    await b.end(lease, { event: 'done', data: '[DONE]' }, 60_000);
    for (const store of [a, b]) {
      const page = await store.read(streamId, 0, 10);
      expect(page!.entries.map((entry) => entry.data)).toEqual(['one', 'two', 'three', '[DONE]']);
      expect(page).toMatchObject({ ended: true, leased: false, lastSeq: 4 });
    }
  });
});
