/**
 * relayTelemetry against RelayActivity sequences (the shape createRelay's
 * onActivity reports), with the SDK's in-memory exporters: the exact
 * per-instance metrics and the span of each produced stream, linked to the
 * answer's span.
 */
import { relayTelemetry, type RelayActivity } from '../src/telemetry/index.js';
import { startTelemetryHarness, type TelemetryHarness } from './support/telemetryHarness';

describe('relayTelemetry', () => {
  let otel: TelemetryHarness;
  beforeEach(() => (otel = startTelemetryHarness()));
  afterEach(() => otel.shutdown());

  const feed = (activities: RelayActivity[]) => {
    const telemetry = relayTelemetry({ tracer: otel.tracer, meter: otel.meter });
    for (const activity of activities) telemetry.onActivity(activity);
    return telemetry;
  };

  it('counts streams, readers, events appended and served, reader lag, and ends each stream span with its outcome', async () => {
    feed([
      { type: 'started', streamId: 's1', takeover: false, resumed: false },
      { type: 'readerOpened', streamId: 's1' },
      { type: 'appended', streamId: 's1', entries: 3 },
      { type: 'started', streamId: 's2', takeover: false, resumed: false },
      { type: 'readerOpened', streamId: 's1' },
      { type: 'appended', streamId: 's1', entries: 2 },
      { type: 'appended', streamId: 's2', entries: 4 },
      { type: 'readerClosed', streamId: 's1', served: 5, behind: 0, reason: 'end' },
      { type: 'ended', streamId: 's1', outcome: 'done' },
      { type: 'readerClosed', streamId: 's1', served: 2, behind: 3, reason: 'dropped' },
      { type: 'readerOpened', streamId: 's2' },
    ]);
    expect(await otel.metrics()).toEqual({
      'rxjs_llm_stream.relay.streams': [{ attributes: {}, value: 1 }],
      'rxjs_llm_stream.relay.readers': [{ attributes: {}, value: 1 }],
      'rxjs_llm_stream.relay.events.appended': [{ attributes: {}, value: 9 }],
      'rxjs_llm_stream.relay.events.served': [
        { attributes: { 'rxjs_llm_stream.relay.reason': 'end' }, value: 5 },
        { attributes: { 'rxjs_llm_stream.relay.reason': 'dropped' }, value: 2 },
      ],
      'rxjs_llm_stream.relay.reader.lag': [
        { attributes: { 'rxjs_llm_stream.relay.reason': 'end' }, count: 1, sum: 0 },
        { attributes: { 'rxjs_llm_stream.relay.reason': 'dropped' }, count: 1, sum: 3 },
      ],
    });
    const spans = otel.spans();
    expect(spans.map((span) => [span.name, span.attributes, span.status])).toEqual([
      [
        'rxjs_llm_stream.relay.stream',
        {
          'rxjs_llm_stream.relay.stream_id': 's1',
          'rxjs_llm_stream.relay.takeover': false,
          'rxjs_llm_stream.relay.resumed': false,
          'rxjs_llm_stream.relay.entries': 5,
          'rxjs_llm_stream.relay.outcome': 'done',
        },
        { code: 0 },
      ],
    ]);
  });

  it('counts takeovers, hand-overs, lost leases and store errors (by operation and error type); each ends or starts a span', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { name: 'ConnectionError' });
    feed([
      { type: 'started', streamId: 'a', takeover: true, resumed: true },
      { type: 'started', streamId: 'b', takeover: true, resumed: false },
      { type: 'started', streamId: 'c', takeover: false, resumed: false },
      { type: 'storeError', streamId: 'a', operation: 'append', error: refused },
      { type: 'storeError', operation: 'renew', error: 'not an error object' },
      { type: 'handedOver', streamId: 'a' },
      { type: 'leaseLost', streamId: 'b' },
      { type: 'ended', streamId: 'c', outcome: 'full' },
      { type: 'handedOver', streamId: 'unknown' }, // counted, no span to end
    ]);
    const metrics = await otel.metrics();
    expect(metrics['rxjs_llm_stream.relay.takeovers']).toEqual([{ attributes: {}, value: 2 }]);
    expect(metrics['rxjs_llm_stream.relay.hand_overs']).toEqual([{ attributes: {}, value: 2 }]);
    expect(metrics['rxjs_llm_stream.relay.leases_lost']).toEqual([{ attributes: {}, value: 1 }]);
    expect(metrics['rxjs_llm_stream.relay.streams']).toEqual([{ attributes: {}, value: 0 }]);
    expect(metrics['rxjs_llm_stream.relay.store.errors']).toEqual([
      { attributes: { 'rxjs_llm_stream.relay.store_operation': 'append', 'error.type': 'ConnectionError' }, value: 1 },
      { attributes: { 'rxjs_llm_stream.relay.store_operation': 'renew', 'error.type': '_OTHER' }, value: 1 },
    ]);
    const spans = otel.spans();
    expect(spans.map((span) => [span.attributes['rxjs_llm_stream.relay.stream_id'], span.attributes['rxjs_llm_stream.relay.outcome'], span.status.code])).toEqual([
      ['a', 'handedOver', 0],
      ['b', 'leaseLost', 2],
      ['c', 'full', 2],
    ]);
    expect(spans[0]!.attributes['rxjs_llm_stream.relay.takeover']).toBe(true);
    expect(spans[0]!.events.map((event) => [event.name, event.attributes])).toEqual([
      ['rxjs_llm_stream.relay.store_error', { 'rxjs_llm_stream.relay.store_operation': 'append', 'error.type': 'ConnectionError' }],
    ]);
    // The error's message (a host and port) is never recorded.
    expect(JSON.stringify(spans.map((span) => [span.attributes, span.events]))).not.toContain('ECONNREFUSED');
  });

  it('links each stream span to the answer span, whichever starts first', () => {
    const answerBefore = otel.tracer.startSpan('answer before');
    const answerAfter = otel.tracer.startSpan('answer after');
    const telemetry = relayTelemetry({ tracer: otel.tracer, meter: otel.meter });
    telemetry.linkAnswer('s1', answerBefore);
    telemetry.onActivity({ type: 'started', streamId: 's1', takeover: false, resumed: false });
    telemetry.onActivity({ type: 'started', streamId: 's2', takeover: false, resumed: false });
    telemetry.linkAnswer('s2', answerAfter);
    telemetry.onActivity({ type: 'ended', streamId: 's1', outcome: 'done' });
    telemetry.onActivity({ type: 'ended', streamId: 's2', outcome: 'error' });
    const [s1, s2] = otel.spans();
    expect(s1!.links.map((link) => link.context.spanId)).toEqual([answerBefore.spanContext().spanId]);
    expect(s2!.links.map((link) => link.context.spanId)).toEqual([answerAfter.spanContext().spanId]);
  });

  it('never throws into the relay, whatever it is given', () => {
    const telemetry = relayTelemetry({ tracer: otel.tracer, meter: otel.meter });
    for (const activity of [null, undefined, 42, {}, { type: 'appended', streamId: 'x', entries: Number.NaN }, { type: 'readerClosed' }]) {
      expect(() => telemetry.onActivity(activity as never)).not.toThrow();
    }
  });

  it('works with no SDK registered (the API no-ops)', () => {
    const telemetry = relayTelemetry();
    expect(() => {
      telemetry.onActivity({ type: 'started', streamId: 's', takeover: false, resumed: false });
      telemetry.linkAnswer('s', otel.tracer.startSpan('answer'));
      telemetry.onActivity({ type: 'ended', streamId: 's', outcome: 'done' });
    }).not.toThrow();
    expect(otel.spans()).toEqual([]); // the global (no-op) tracer, not the harness's
  });
});
