// The app's tracer and instruments, from the global providers. The tracer API forwards to a provider
// registered later; meters do not, so the instruments are made on first use, after telemetry started.
import { type Counter, metrics, trace } from '@opentelemetry/api';

// Process-wide, so a second copy of these modules (a test loads the sources, the runner the build) agrees.
const ON = Symbol.for('azure-redis-cart.telemetry');

/** Whether telemetry was started in this process. */
export function telemetryOn(): boolean {
  return (globalThis as Record<symbol, unknown>)[ON] === true;
}

/** Records that telemetry was started (or stopped) in this process. */
export function setTelemetryOn(on: boolean): void {
  (globalThis as Record<symbol, unknown>)[ON] = on;
}

/** The app's tracer (a no-op until telemetry is started). */
export const tracer = trace.getTracer('azure-redis-cart');

interface Instruments {
  valuesWritten: Counter;
  segmentsDone: Counter;
  unavailable: Counter;
  deadlineExceeded: Counter;
}

let made: Instruments | undefined;

function make(): Instruments {
  const meter = metrics.getMeter('azure-redis-cart');
  return {
    valuesWritten: meter.createCounter('biglist.values.written', {
      unit: '{value}',
      description: 'Values committed to Redis by the loader',
    }),
    segmentsDone: meter.createCounter('biglist.segments.done', {
      unit: '{segment}',
      description: 'Segments committed, by write path',
    }),
    unavailable: meter.createCounter('http.server.unavailable', {
      unit: '{response}',
      description: '503 answers, by error code (redis_unavailable, queue_unavailable)',
    }),
    deadlineExceeded: meter.createCounter('redis.client.deadline_exceeded', {
      unit: '{connection}',
      description: 'Connections the Redis deadline watchdog destroyed',
    }),
  };
}

/** The app's own instruments (node-redis records the Redis ones), made on first use. */
export function instruments(): Instruments {
  return (made ??= make());
}

/** Forgets the instruments, so they are made again on the provider started next (tests). */
export function resetInstruments(): void {
  made = undefined;
}
