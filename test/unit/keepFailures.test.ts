// The tail decision: failed traces always exported, successful ones at the ratio, children with their root.
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';

import { successRatio } from '../../shared/config.js';
import { KeepFailuresProcessor } from '../../shared/telemetry/keepFailures.js';

function setup(ratio: number, draws: number[]) {
  const exporter = new InMemorySpanExporter();
  const processor = new KeepFailuresProcessor(
    new SimpleSpanProcessor(exporter),
    ratio,
    () => draws.shift() ?? 0,
  );
  const tracer = new BasicTracerProvider({ spanProcessors: [processor] }).getTracer('t');
  const request = (fail: 'none' | 'child' | 'root') => {
    const root = tracer.startSpan('root');
    const child = tracer.startSpan('child', {}, trace.setSpan(context.active(), root));
    if (fail === 'child') child.setStatus({ code: SpanStatusCode.ERROR });
    child.end();
    if (fail === 'root') root.setStatus({ code: SpanStatusCode.ERROR });
    root.end();
  };
  return { exporter, request, tracer };
}

describe('KeepFailuresProcessor', () => {
  it('exports every failed trace, whole, even at ratio 0', () => {
    const { exporter, request } = setup(0, [0.5, 0.5, 0.5]);
    request('none');
    expect(exporter.getFinishedSpans()).toEqual([]);
    request('child');
    request('root');
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['child', 'root', 'child', 'root']);
  });

  it('keeps successful traces at the ratio, with their children', () => {
    const { exporter, request } = setup(0.25, [0.1, 0.9, 0.3]);
    request('none');
    request('none');
    request('none');
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['child', 'root']);
  });

  it('follows the decision for children that end after their root, and never holds them', () => {
    const { exporter, tracer } = setup(0.5, [0.1, 0.9, 0.9]);
    const late = (failAfter: boolean) => {
      const root = tracer.startSpan('root');
      const child = tracer.startSpan('late', {}, trace.setSpan(context.active(), root));
      root.end();
      if (failAfter) child.setStatus({ code: SpanStatusCode.ERROR });
      child.end();
    };
    late(false); // kept (draw 0.1): the late child follows
    late(false); // dropped (draw 0.9): the late child too
    late(true); // dropped at the root, but a late failure is exported
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['root', 'late', 'late']);
  });

  it('holds children for at most 1,000 open traces, forgetting the oldest first', () => {
    const { exporter, tracer } = setup(1, []);
    const roots = Array.from({ length: 1_500 }, () => {
      const root = tracer.startSpan('root');
      tracer.startSpan('child', {}, trace.setSpan(context.active(), root)).end();
      return root;
    });
    roots[0]?.end();
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['root']);
    exporter.reset();
    roots[1_499]?.end();
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['child', 'root']);
  });

  it('reads the ratio from OTEL_TRACES_SAMPLER_ARG, defaulting to all', () => {
    expect(successRatio({})).toBe(1);
    expect(successRatio({ OTEL_TRACES_SAMPLER_ARG: '0.1' })).toBe(0.1);
    expect(successRatio({ OTEL_TRACES_SAMPLER_ARG: 'lots' })).toBe(1);
  });
});
