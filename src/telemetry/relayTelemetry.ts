import { metrics, SpanStatusCode, trace, type Attributes, type Link, type Meter, type Span, type Tracer } from '@opentelemetry/api';
import { errorType } from './answerRecorder.js';
import { ATTR, OWN_ATTR, RELAY_METRIC, SCOPE } from './conventions.js';
import type { RelayActivity } from '../server/relayActivity.js';

/** Options of `relayTelemetry`. */
export interface RelayTelemetryOptions {
  /** Default: `trace.getTracer('rxjs-llm-stream')`. */
  tracer?: Tracer | undefined;
  /** Default: `metrics.getMeter('rxjs-llm-stream')`. Its resource (`service.instance.id`) tells the instances apart. */
  meter?: Meter | undefined;
}

/** What `relayTelemetry` returns: the relay's `onActivity`, and a way to link an answer's span to its relay stream. */
export interface RelayTelemetry {
  /** Pass as `createRelay({ onActivity })`. Never throws. */
  onActivity: (activity: RelayActivity) => void;
  /**
   * Links the span of the relay stream `streamId` (started when this instance
   * claims it) to an answer's span: pass `(span) => linkAnswer(streamId, span)`
   * as `withTelemetry`'s `onSpanStart` in the producer's pipeline. Works in
   * either order (an answer span that starts first is kept until its stream
   * starts, and dropped when a stream ends).
   */
  linkAnswer: (streamId: string, span: Span) => void;
}

/** The span name of a produced relay stream. */
const STREAM_SPAN = 'rxjs_llm_stream.relay.stream';
const MAX_PENDING_LINKS = 1024;

/**
 * Metrics and spans of one relay instance, built on `createRelay`'s
 * `onActivity`: streams running and readers (up-down counters), events
 * appended and served (counters: a backend's rate gives per second), reader
 * lag in entries when a reader ends (histogram), takeovers, hand-overs,
 * leases lost, store errors, store connections lost and back (counters;
 * the last two are reported by the store: pass `onActivity` to
 * `redisRelayStore` as well); and one span per stream this
 * instance produces, from its claim to its end, hand-over or lost lease,
 * linked to the answer's span.
 *
 * ```text
 * activity:  started --appended(3)--readerOpened--appended(2)--readerClosed(served 5)--ended(done)
 * streams:   +1                                                                        -1
 * readers:                          +1                          -1
 * appended:           3                         2
 * span:      [rxjs_llm_stream.relay.stream ..................................... ] ok
 * ```
 *
 * @example
 * ```ts
 * const telemetry = relayTelemetry();
 * const store = redisRelayStore(redis, { onActivity: telemetry.onActivity });
 * const relay = createRelay({ store, onActivity: telemetry.onActivity });
 * ```
 */
export function relayTelemetry(options: RelayTelemetryOptions = {}): RelayTelemetry {
  const tracer = options.tracer ?? trace.getTracer(SCOPE);
  const meter = options.meter ?? metrics.getMeter(SCOPE);
  const events = (name: string, description: string) => meter.createCounter(name, { unit: '{event}', description });
  const count = (name: string, description: string) => meter.createCounter(name, { description });
  const streams = meter.createUpDownCounter(RELAY_METRIC.streams, { unit: '{stream}', description: 'Streams this instance is producing.' });
  const readers = meter.createUpDownCounter(RELAY_METRIC.readers, { unit: '{reader}', description: 'Readers this instance is serving.' });
  const appended = events(RELAY_METRIC.appended, 'Events this instance appended to stream logs.');
  const served = events(RELAY_METRIC.served, 'Events this instance sent to readers (counted when a reader ends).');
  const readerLag = meter.createHistogram(RELAY_METRIC.readerLag, {
    unit: '{event}',
    description: 'Events a reader had not been sent when it ended.',
    advice: { explicitBucketBoundaries: [0, 1, 4, 16, 64, 256, 1024, 4096, 16384] },
  });
  const takeovers = count(RELAY_METRIC.takeovers, 'Streams this instance took over from a producer that was gone.');
  const handOvers = count(RELAY_METRIC.handOvers, 'Running streams this instance released on close().');
  const leasesLost = count(RELAY_METRIC.leasesLost, 'Producers of this instance that found their lease gone.');
  const storeErrors = count(RELAY_METRIC.storeErrors, 'Failed store calls (some are retried).');
  const storeDisconnects = count(RELAY_METRIC.storeDisconnects, 'Store connections lost (or that could not be opened).');
  const storeReconnects = count(RELAY_METRIC.storeReconnects, 'Store connections that worked again after they were lost.');

  const running = new Map<string, { span: Span; entries: number }>();
  const pendingLinks = new Map<string, Link[]>();

  const stop = (streamId: string, end: (span: Span) => void) => {
    const stream = running.get(streamId);
    pendingLinks.delete(streamId);
    if (stream === undefined) return;
    running.delete(streamId);
    streams.add(-1);
    stream.span.setAttribute(OWN_ATTR.entries, stream.entries);
    end(stream.span);
    stream.span.end();
  };

  const record = (activity: RelayActivity): void => {
    switch (activity.type) {
      case 'started': {
        const links = pendingLinks.get(activity.streamId) ?? [];
        stop(activity.streamId, (span) => span.setStatus({ code: SpanStatusCode.ERROR, message: 'started again' }));
        const attributes: Attributes = {
          [OWN_ATTR.streamId]: activity.streamId,
          [OWN_ATTR.takeover]: activity.takeover,
          [OWN_ATTR.resumed]: activity.resumed,
        };
        running.set(activity.streamId, { span: tracer.startSpan(STREAM_SPAN, { attributes, links }), entries: 0 });
        streams.add(1);
        if (activity.takeover) takeovers.add(1);
        return;
      }
      case 'appended': {
        appended.add(activity.entries);
        const stream = running.get(activity.streamId);
        if (stream !== undefined) stream.entries += activity.entries;
        return;
      }
      case 'ended':
        return stop(activity.streamId, (span) => {
          span.setAttribute(OWN_ATTR.outcome, activity.outcome);
          if (activity.outcome === 'error' || activity.outcome === 'full') span.setStatus({ code: SpanStatusCode.ERROR, message: activity.outcome });
        });
      case 'handedOver':
        handOvers.add(1);
        return stop(activity.streamId, (span) => span.setAttribute(OWN_ATTR.outcome, 'handedOver'));
      case 'leaseLost':
        leasesLost.add(1);
        return stop(activity.streamId, (span) => {
          span.setAttribute(OWN_ATTR.outcome, 'leaseLost');
          span.setStatus({ code: SpanStatusCode.ERROR, message: 'leaseLost' });
        });
      case 'readerOpened':
        readers.add(1);
        return;
      case 'readerClosed':
        readers.add(-1);
        served.add(activity.served, { [OWN_ATTR.reason]: activity.reason });
        readerLag.record(activity.behind, { [OWN_ATTR.reason]: activity.reason });
        return;
      case 'storeError': {
        const attributes = { [OWN_ATTR.operation]: activity.operation, [ATTR.errorType]: errorType(activity.error) };
        storeErrors.add(1, attributes);
        if (activity.streamId !== undefined) running.get(activity.streamId)?.span.addEvent('rxjs_llm_stream.relay.store_error', attributes);
        return;
      }
      case 'storeDisconnected':
        storeDisconnects.add(1, { [OWN_ATTR.connection]: activity.connection, [ATTR.errorType]: errorType(activity.error) });
        return;
      case 'storeReconnected':
        storeReconnects.add(1, { [OWN_ATTR.connection]: activity.connection });
        return;
      default:
      // Anything a later relay reports that this version does not know is ignored.
    }
  };

  return {
    onActivity(activity) {
      try {
        record(activity);
      } catch {
        // Telemetry never breaks the relay.
      }
    },
    linkAnswer(streamId, span) {
      const link: Link = { context: span.spanContext() };
      const stream = running.get(streamId);
      if (stream !== undefined) stream.span.addLink(link);
      else {
        // Bounded: links for streams that never start here are forgotten, oldest first.
        if (pendingLinks.size >= MAX_PENDING_LINKS) pendingLinks.delete(pendingLinks.keys().next().value as string);
        pendingLinks.set(streamId, [...(pendingLinks.get(streamId) ?? []), link].slice(-8));
      }
    },
  };
}
