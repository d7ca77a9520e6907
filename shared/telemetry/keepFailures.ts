// Sampling that keeps every failed request: a head sampler decides before it knows the outcome, so this
// processor decides at the end of each local trace (an invocation's span and its children). A trace with
// any failed span, or with a 5xx, is always exported; the others are kept at OTEL_TRACES_SAMPLER_ARG.
import { SpanStatusCode, type Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

// A guard against a trace whose root never ends: its buffered children are dropped beyond this.
const MAX_BUFFERED = 10_000;

export class KeepFailuresProcessor implements SpanProcessor {
  readonly #buffered = new Map<string, ReadableSpan[]>();
  #count = 0;

  /** `ratio` of successful traces exported (0 to 1); `random` is replaceable for tests. */
  constructor(
    private readonly inner: SpanProcessor,
    private readonly ratio: number,
    private readonly random: () => number = Math.random,
  ) {}

  onStart(span: Span, parentContext: Context): void {
    this.inner.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    const key = span.spanContext().traceId;
    const parent = span.parentSpanContext;
    // The local root: no parent, or a parent in another process (the caller, the host, the queue sender).
    if (parent && !parent.isRemote) {
      if (this.#count >= MAX_BUFFERED) return;
      const list = this.#buffered.get(key) ?? [];
      list.push(span);
      this.#buffered.set(key, list);
      this.#count += 1;
      return;
    }
    const children = this.#buffered.get(key) ?? [];
    this.#buffered.delete(key);
    this.#count -= children.length;
    const failed = [span, ...children].some((s) => s.status.code === SpanStatusCode.ERROR);
    if (!failed && this.random() >= this.ratio) return;
    for (const s of [...children, span]) this.inner.onEnd(s);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    this.#buffered.clear();
    return this.inner.shutdown();
  }
}

/** The ratio of successful traces to keep, from OTEL_TRACES_SAMPLER_ARG (default 1: all). */
export function successRatio(env: NodeJS.ProcessEnv): number {
  const ratio = Number(env.OTEL_TRACES_SAMPLER_ARG ?? '1');
  return Number.isFinite(ratio) && ratio >= 0 && ratio <= 1 ? ratio : 1;
}
