// The app's tracer and counters, from the global providers. The tracer API forwards to a provider
// registered later; meters do not, so a counter is made on first use, after telemetry started.
import { type Counter, type MetricOptions, metrics, trace } from '@opentelemetry/api';

let on = false;
// Counters made on the provider running now, by name; forgotten when telemetry starts again.
const made = new Map<string, Counter>();

/** Whether telemetry was started in this process. */
export function telemetryOn(): boolean {
  return on;
}

/** Records that telemetry was started (or stopped) in this process; counters are made anew on the next provider. */
export function setTelemetryOn(value: boolean): void {
  on = value;
  made.clear();
}

/** The app's tracer (a no-op until telemetry is started). */
export const tracer = trace.getTracer('azure-redis-cart');

/** A counter, declared where it is counted and made on first use on the provider running then. */
export function counter(name: string, options: MetricOptions): () => Counter {
  return () => {
    let c = made.get(name);
    if (!c) {
      c = metrics.getMeter('azure-redis-cart').createCounter(name, options);
      made.set(name, c);
    }
    return c;
  };
}
