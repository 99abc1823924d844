/**
 * The OpenTelemetry SDK wired to in-memory exporters, for exact assertions on
 * spans, span events and metrics: a tracer provider exporting every ended
 * span to an `InMemorySpanExporter`, a meter provider whose reader collects on
 * demand into an `InMemoryMetricExporter`, and a clock that advances 100 ms
 * each time it is read (so every duration is a known multiple of 0.1 s).
 */
import type { Attributes, Meter, Tracer } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  MetricReader,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** One metric point, flattened: a sum's value, or a histogram's count and sum. */
export interface Point {
  attributes: Attributes;
  value?: number;
  count?: number;
  sum?: number;
}

export interface TelemetryHarness {
  tracer: Tracer;
  meter: Meter;
  spanExporter: InMemorySpanExporter;
  /** Advances 100 ms per read. */
  now: () => number;
  spans(): ReadableSpan[];
  /** Collects now; every metric by name, its points flattened. */
  metrics(): Promise<Record<string, Point[]>>;
  shutdown(): Promise<void>;
}

export function startTelemetryHarness(): TelemetryHarness {
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  const reader = new OnDemandReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  let clock = 0;
  return {
    tracer: tracerProvider.getTracer('test'),
    meter: meterProvider.getMeter('test'),
    spanExporter,
    now: () => (clock += 100),
    spans: () => spanExporter.getFinishedSpans(),
    async metrics() {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw errors[0];
      metricExporter.reset();
      await new Promise<void>((resolve) => metricExporter.export(resourceMetrics, () => resolve()));
      const byName: Record<string, Point[]> = {};
      for (const exported of metricExporter.getMetrics()) {
        for (const scope of exported.scopeMetrics) for (const metric of scope.metrics) byName[metric.descriptor.name] = pointsOf(metric);
      }
      return byName;
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

function pointsOf(metric: MetricData): Point[] {
  if (metric.dataPointType === DataPointType.HISTOGRAM) {
    return metric.dataPoints.map((point) => ({ attributes: point.attributes, count: point.value.count, sum: round(point.value.sum ?? NaN) }));
  }
  return (metric.dataPoints as { attributes: Attributes; value: number }[]).map((point) => ({ attributes: point.attributes, value: point.value }));
}

/** Sums of tenths of seconds, without floating-point dust. */
const round = (value: number) => Math.round(value * 1e6) / 1e6;
