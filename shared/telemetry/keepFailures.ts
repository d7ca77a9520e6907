// Sampling that keeps every failed request: a head sampler decides before it knows the outcome, so this
// processor decides at the end of each local trace (an invocation's span and its children). A trace with
// any failed span, or with a 5xx, is always exported; the others are kept at OTEL_TRACES_SAMPLER_ARG.
// Redis command spans are written after their invocation's span ends and follow its decision: a command
// error the request recovered from (NOSCRIPT answered by EVAL) does not keep a successful trace.
import { type Context, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

// Bounds: children waiting for their root, and decisions remembered for children that end after their
// root (the Redis command spans, written as soon as it ends; a span a library ends after the reply). Kept
// small: a decision that outlives a few young-generation collections is copied and promoted, which showed
// as garbage-collection time per request.
const MAX_WAITING_TRACES = 1_000;
const MAX_DECISIONS = 1_000;

/**
 * A map that forgets its oldest half when full, in O(1): two generations, the older dropped whole. Evicting
 * a plain Map's oldest key one by one scans past its deleted entries (about 5 µs at 10,000, per request),
 * and lru-cache's bookkeeping cost about 2 µs per request; this is a few dozen nanoseconds.
 */
class RecentMap<V> {
  #young = new Map<string, V>();
  #old = new Map<string, V>();
  constructor(private readonly max: number) {}

  get(key: string): V | undefined {
    return this.#young.get(key) ?? this.#old.get(key);
  }

  set(key: string, value: V): void {
    if (this.#young.size >= this.max / 2) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }

  delete(key: string): void {
    this.#young.delete(key);
    this.#old.delete(key);
  }

  clear(): void {
    this.#young.clear();
    this.#old.clear();
  }
}

// The processor in use, which the Redis spans ask whether a trace is kept.
let active: KeepFailuresProcessor | undefined;
const activate = (processor: KeepFailuresProcessor | undefined) => {
  active = processor;
};

export class KeepFailuresProcessor implements SpanProcessor {
  readonly #waiting = new RecentMap<ReadableSpan[]>(MAX_WAITING_TRACES);
  readonly #decided = new RecentMap<boolean>(MAX_DECISIONS);

  /** `ratio` of successful traces exported (0 to 1); `random` is replaceable for tests. */
  constructor(
    private readonly inner: SpanProcessor,
    private readonly ratio: number,
    private readonly random: () => number = Math.random,
  ) {
    activate(this);
  }

  /** Whether the trace was kept; undefined while its root has not ended (or was long forgotten). */
  kept(traceId: string): boolean | undefined {
    return this.#decided.get(traceId);
  }

  onStart(span: Span, parentContext: Context): void {
    this.inner.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    const traceId = span.spanContext().traceId;
    const parent = span.parentSpanContext;
    const isLocalRoot = !parent || parent.isRemote;
    if (!isLocalRoot) {
      const decided = this.#decided.get(traceId);
      if (decided !== undefined) {
        // Its root has ended already: follow the decision (a late failure is still exported).
        if (decided || span.status.code === SpanStatusCode.ERROR) this.inner.onEnd(span);
        return;
      }
      const list = this.#waiting.get(traceId);
      if (list) list.push(span);
      else this.#waiting.set(traceId, [span]);
      return;
    }
    const children = this.#waiting.get(traceId) ?? [];
    if (children.length > 0) this.#waiting.delete(traceId);
    const failed =
      span.status.code === SpanStatusCode.ERROR ||
      children.some((s) => s.status.code === SpanStatusCode.ERROR);
    const keep = failed || this.random() < this.ratio;
    this.#decided.set(traceId, keep);
    if (keep) {
      for (const s of children) this.inner.onEnd(s);
      this.inner.onEnd(span);
    }
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    this.#waiting.clear();
    this.#decided.clear();
    if (active === this) activate(undefined);
    return this.inner.shutdown();
  }
}

/**
 * Whether a trace whose root has ended is exported: false when the sampling dropped it, true otherwise
 * (also when this processor is not in use, as in tests with a plain processor).
 */
export function traceKept(traceId: string): boolean {
  return active?.kept(traceId) !== false;
}
