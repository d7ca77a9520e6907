// Sampling that keeps every failed request: a head sampler decides before it knows the outcome, so this
// processor decides at the end of each local trace (an invocation's span and its children). A trace with
// any failed span, or with a 5xx, is always exported; the others are kept at OTEL_TRACES_SAMPLER_ARG.
import { SpanStatusCode, type Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

// Bounds: children waiting for their root, and decisions remembered for children that end after their
// root (a streamed response, work finished after the reply). The oldest are forgotten first.
const MAX_WAITING_TRACES = 1_000;
const MAX_DECISIONS = 10_000;

export class KeepFailuresProcessor implements SpanProcessor {
  readonly #waiting = new Map<string, ReadableSpan[]>();
  readonly #decided = new Map<string, boolean>();

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
    const traceId = span.spanContext().traceId;
    const parent = span.parentSpanContext;
    const isLocalRoot = !parent || parent.isRemote;
    const decided = this.#decided.get(traceId);
    if (!isLocalRoot) {
      if (decided !== undefined) {
        // Its root has ended already: follow the decision (a late failure is still exported).
        if (decided || span.status.code === SpanStatusCode.ERROR) this.inner.onEnd(span);
        return;
      }
      const list = this.#waiting.get(traceId) ?? [];
      if (list.length === 0) forgetOldest(this.#waiting, MAX_WAITING_TRACES);
      list.push(span);
      this.#waiting.set(traceId, list);
      return;
    }
    const children = this.#waiting.get(traceId) ?? [];
    this.#waiting.delete(traceId);
    const failed = [span, ...children].some((s) => s.status.code === SpanStatusCode.ERROR);
    const keep = failed || this.random() < this.ratio;
    forgetOldest(this.#decided, MAX_DECISIONS);
    this.#decided.set(traceId, keep);
    if (keep) for (const s of [...children, span]) this.inner.onEnd(s);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    this.#waiting.clear();
    this.#decided.clear();
    return this.inner.shutdown();
  }
}

function forgetOldest<V>(map: Map<string, V>, max: number): void {
  while (map.size >= max) {
    const oldest = map.keys().next().value;
    if (oldest === undefined) return;
    map.delete(oldest);
  }
}

/** The ratio of successful traces to keep, from OTEL_TRACES_SAMPLER_ARG (default 1: all). */
export function successRatio(env: NodeJS.ProcessEnv): number {
  const ratio = Number(env.OTEL_TRACES_SAMPLER_ARG ?? '1');
  return Number.isFinite(ratio) && ratio >= 0 && ratio <= 1 ? ratio : 1;
}
