import { memoryRelayStore } from '../src/server/memoryRelayStore';
import { RelayBusyError, RelayLogFullError, type RelayClaim, type RelayLease } from '../src/server/relayStore';
import { describeRelayStoreContract } from './support/relayStoreContract';

describeRelayStoreContract('memoryRelayStore', () => memoryRelayStore());

function leaseOf(claim: RelayClaim): RelayLease {
  if (claim.status !== 'created' && claim.status !== 'takenOver') throw new Error(`no lease: ${claim.status}`);
  return claim.lease;
}

describe('memoryRelayStore caps', () => {
  const claimOptions = { leaseMs: 10_000, ttlMs: 60_000 };

  it('refuses entries past maxEntries with RelayLogFullError, appending nothing of that batch, and still takes the terminal entry', async () => {
    const store = memoryRelayStore({ maxEntries: 3 });
    const lease = leaseOf(await store.claim('full', claimOptions));
    await store.append(lease, [{ data: 'a' }, { data: 'b' }]);
    const refused = store.append(lease, [{ data: 'c' }, { data: 'd' }]);
    await expect(refused).rejects.toBeInstanceOf(RelayLogFullError);
    await expect(refused).rejects.toMatchObject({ limit: 'maxEntries', max: 3 });
    expect((await store.state('full'))?.lastSeq).toBe(2);
    expect(await store.end(lease, { event: 'error', data: '{}' }, 60_000)).toBe(3);
    await store.close?.();
  });

  it('refuses bytes past maxBytes (UTF-8) with RelayLogFullError', async () => {
    const store = memoryRelayStore({ maxBytes: 10 });
    const lease = leaseOf(await store.claim('bytes', claimOptions));
    await store.append(lease, [{ data: 'ééé' }]); // 6 bytes
    await expect(store.append(lease, [{ data: 'éé' }, { data: 'x' }])).rejects.toMatchObject({ name: 'RelayLogFullError', limit: 'maxBytes' });
    expect(await store.append(lease, [{ data: 'abcd' }])).toBe(2);
    await store.close?.();
  });

  it('rejects a claim beyond maxStreams with RelayBusyError and takes one again when a log expired', async () => {
    const store = memoryRelayStore({ maxStreams: 2 });
    await store.claim('one', claimOptions);
    const two = leaseOf(await store.claim('two', claimOptions));
    await expect(store.claim('three', claimOptions)).rejects.toBeInstanceOf(RelayBusyError);
    // A claim on a stream it already keeps is not a new stream.
    expect((await store.claim('two', claimOptions)).status).toBe('held');
    await store.end(two, { event: 'done', data: '[DONE]' }, 50);
    const deadline = Date.now() + 15_000;
    while ((await store.state('two')) !== undefined && Date.now() < deadline) await new Promise((wait) => setTimeout(wait, 20));
    expect((await store.claim('three', claimOptions)).status).toBe('created');
    await store.close?.();
  });

  it('refuses bad limits before anything runs', () => {
    expect(() => memoryRelayStore({ maxEntries: 0 })).toThrow(RangeError);
    expect(() => memoryRelayStore({ maxBytes: -1 })).toThrow(RangeError);
    expect(() => memoryRelayStore({ maxStreams: 1.5 })).toThrow(RangeError);
  });
});
