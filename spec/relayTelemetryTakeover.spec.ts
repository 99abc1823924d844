/**
 * relayTelemetry end to end: two relay instances on one memory store, each
 * with its own OpenTelemetry SDK (in-memory exporters), an answer from the
 * mock server through withTelemetry on each. Instance A produces, a reader
 * reads, A closes (hand-over); B takes the stream over and finishes it. The
 * exact relay metrics of each instance, the stream spans and their links to
 * the answers' spans.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { fromChatCompletion, untilDone } from '../src/index.js';
import { createRelay, memoryRelayStore, type Relay } from '../src/server/index.js';
import { startMockChatServer, type MockChatServer } from '../src/testing/index.js';
import { relayTelemetry, withTelemetry } from '../src/telemetry/index.js';
import { startTelemetryHarness, type TelemetryHarness } from './support/telemetryHarness';

describe('relayTelemetry with a real relay: a takeover', () => {
  let mock: MockChatServer;
  let a: TelemetryHarness;
  let b: TelemetryHarness;
  const relays: Relay[] = [];
  beforeEach(() => {
    a = startTelemetryHarness();
    b = startTelemetryHarness();
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((relay) => relay.close()));
    await mock?.close();
    await a.shutdown();
    await b.shutdown();
  });

  it('counts the hand-over on A and the takeover on B; each stream span links to its answer span', async () => {
    // Request 1 (A's producer) stalls after 3 chunks; request 2 (B's) streams the whole answer.
    mock = await startMockChatServer({ script: [{ fault: { kind: 'stall', afterChunks: 3 } }, {}] });
    const store = memoryRelayStore();
    const onA = relayTelemetry({ tracer: a.tracer, meter: a.meter });
    const onB = relayTelemetry({ tracer: b.tracer, meter: b.meter });
    const relayA = createRelay({ store, heartbeat: 0, leaseMs: 60_000, onActivity: onA.onActivity });
    const relayB = createRelay({ store, heartbeat: 0, onActivity: onB.onActivity });
    relays.push(relayA, relayB);
    const request = { baseURL: `${mock.url}/v1`, body: { model: 'gpt-test', messages: [] } };
    const producer = (harness: TelemetryHarness, telemetry: typeof onA) => () =>
      fromChatCompletion(request).pipe(
        untilDone(),
        withTelemetry({ api: 'chat.completions', request, retry: false, tracer: harness.tracer, meter: harness.meter, onSpanStart: (span) => telemetry.linkAnswer('t1', span) }),
      );

    expect(await relayA.start('t1', producer(a, onA))).toBe(true);
    const reader = lastValueFrom(relayA.events('t1').pipe(toArray()));
    await waitFor(async () => ((await store.state('t1'))?.lastSeq ?? 0) >= 3);
    await relayA.close();
    const readOnA = await reader;
    expect(readOnA.some((entry) => entry.end)).toBe(false);

    expect(await relayB.start('t1', producer(b, onB))).toBe(true);
    const all = await lastValueFrom(relayB.events('t1').pipe(toArray()));
    expect(all.at(-1)).toMatchObject({ end: true });
    // B's entries: the whole answer (its first chunk stored as a restart event); the terminal entry is 'ended', not 'appended'.
    expect(all[readOnA.length]).toMatchObject({ event: 'restart' });
    const appendedByB = all.length - readOnA.length - 1;

    const metricsA = await a.metrics();
    expect(metricsA['rxjs_llm_stream.relay.streams']).toEqual([{ attributes: {}, value: 0 }]);
    expect(metricsA['rxjs_llm_stream.relay.hand_overs']).toEqual([{ attributes: {}, value: 1 }]);
    expect(metricsA['rxjs_llm_stream.relay.takeovers']).toBeUndefined();
    expect(metricsA['rxjs_llm_stream.relay.events.appended']).toEqual([{ attributes: {}, value: readOnA.length }]);
    expect(metricsA['rxjs_llm_stream.relay.readers']).toEqual([{ attributes: {}, value: 0 }]);
    // A's reader was ended by the hand-over (the relay reports 'ownerGone'; 'closed' if close() reaches it first),
    // having been sent everything A wrote.
    const endedBy = { 'rxjs_llm_stream.relay.reason': expect.stringMatching(/^(ownerGone|closed)$/) };
    expect(metricsA['rxjs_llm_stream.relay.events.served']).toEqual([{ attributes: endedBy, value: readOnA.length }]);
    expect(metricsA['rxjs_llm_stream.relay.reader.lag']).toEqual([{ attributes: endedBy, count: 1, sum: 0 }]);

    await waitFor(async () => (await b.metrics())['rxjs_llm_stream.relay.readers']?.[0]?.value === 0);
    const metricsB = await b.metrics();
    expect(metricsB['rxjs_llm_stream.relay.takeovers']).toEqual([{ attributes: {}, value: 1 }]);
    expect(metricsB['rxjs_llm_stream.relay.streams']).toEqual([{ attributes: {}, value: 0 }]);
    expect(metricsB['rxjs_llm_stream.relay.events.appended']).toEqual([{ attributes: {}, value: appendedByB }]);
    expect(metricsB['rxjs_llm_stream.relay.hand_overs']).toBeUndefined();
    // B's reader read the whole log, terminal entry included, to its end.
    expect(metricsB['rxjs_llm_stream.relay.events.served']).toEqual([{ attributes: { 'rxjs_llm_stream.relay.reason': 'end' }, value: all.length }]);
    expect(metricsB['rxjs_llm_stream.relay.reader.lag']).toEqual([{ attributes: { 'rxjs_llm_stream.relay.reason': 'end' }, count: 1, sum: 0 }]);

    const [answerA, streamA] = sortSpans(a.spans());
    expect(streamA!.attributes).toMatchObject({ 'rxjs_llm_stream.relay.stream_id': 't1', 'rxjs_llm_stream.relay.takeover': false, 'rxjs_llm_stream.relay.outcome': 'handedOver' });
    expect(streamA!.links.map((link) => link.context.spanId)).toEqual([answerA!.spanContext().spanId]);
    expect(answerA!.events.map((event) => event.name)).toEqual(['rxjs_llm_stream.cancelled']);

    const [answerB, streamB] = sortSpans(b.spans());
    expect(streamB!.attributes).toMatchObject({ 'rxjs_llm_stream.relay.takeover': true, 'rxjs_llm_stream.relay.outcome': 'done', 'rxjs_llm_stream.relay.entries': appendedByB });
    expect(streamB!.links.map((link) => link.context.spanId)).toEqual([answerB!.spanContext().spanId]);
    expect(answerB!.status.code).toBe(0);
  }, 60_000);
});

/** The answer span first, the relay stream span second. */
const sortSpans = <S extends { name: string }>(spans: S[]) => [spans.find((s) => s.name.startsWith('chat'))!, spans.find((s) => s.name === 'rxjs_llm_stream.relay.stream')!];

async function waitFor(check: () => Promise<boolean> | boolean, limitMs = 20_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
