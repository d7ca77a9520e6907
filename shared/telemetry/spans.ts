// The span of each invocation: HTTP requests (server spans) and queue messages (consumer spans), parented
// by the trace the caller started (W3C traceparent), and the carrier that takes a trace across the queue.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

import { getTelemetryConfig } from '../config.js';
import { ensureError } from '../errors.js';
import { writeRedisSpans } from './redisSpans.js';
import { counter, telemetryOn, tracer } from './tracer.js';

/** W3C trace context as carried in a queue message. */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

// On Azure the Functions host records each invocation itself (telemetryMode OpenTelemetry): the worker's
// spans are then internal, so no request or message is counted twice. The local runner records none.
const kindOf = (own: SpanKind) => (getTelemetryConfig().hostRecordsInvocations ? SpanKind.INTERNAL : own);

const unavailable = counter('http.server.unavailable', {
  unit: '{response}',
  description: '503 answers, by error code (redis_unavailable, queue_unavailable)',
});

/** What a span needs of an invocation. */
export type Invocation = Pick<InvocationContext, 'invocationId' | 'traceContext'>;

function parentOf(invocation: Invocation, fallback: () => TraceCarrier): Context {
  const fromHost = invocation.traceContext;
  const carrier: TraceCarrier = fromHost?.traceParent
    ? {
        traceparent: fromHost.traceParent,
        ...(fromHost.traceState ? { tracestate: fromHost.traceState } : {}),
      }
    : fallback();
  return carrier.traceparent ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
}

/**
 * Runs an HTTP handler in its span: method and route template only, never the URL with its values.
 * `errorCode` names what a response reports (a problem's code), recorded for a 5xx.
 */
export async function inRequestSpan(
  method: string,
  route: string,
  request: HttpRequest,
  invocation: InvocationContext,
  run: () => Promise<HttpResponseInit>,
  errorCode: (res: HttpResponseInit) => string | undefined,
): Promise<HttpResponseInit> {
  // Off: not even a no-op span on the request path.
  if (!telemetryOn()) return run();
  // The caller's own traceparent header counts only where the host supplies no trace context (locally).
  const parent = parentOf(invocation, () => {
    const traceparent = request.headers.get('traceparent');
    const tracestate = request.headers.get('tracestate');
    return {
      ...(traceparent ? { traceparent } : {}),
      ...(tracestate ? { tracestate } : {}),
    };
  });
  const span = tracer.startSpan(
    `${method} /api${route}`,
    {
      kind: kindOf(SpanKind.SERVER),
      attributes: {
        'http.request.method': method,
        'http.route': `/api${route}`,
        'faas.trigger': 'http',
        'faas.invocation_id': invocation.invocationId,
      },
    },
    parent,
  );
  try {
    const res = await context.with(trace.setSpan(parent, span), run);
    const status = res.status ?? 200;
    span.setAttribute('http.response.status_code', status);
    const code = errorCode(res);
    if (status >= 500) {
      span.setAttribute('error.type', code ?? String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    if (status === 503) unavailable().add(1, { 'error.code': code ?? 'unknown' });
    return res;
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span.end();
    writeRedisSpans(span);
  }
}

/** The trace context a queue message carries, if any (its fields are validated with the message). */
export function carrierOf(message: unknown): TraceCarrier {
  const m = (typeof message === 'object' && message !== null ? message : {}) as Record<string, unknown>;
  return {
    ...(typeof m.traceparent === 'string' ? { traceparent: m.traceparent } : {}),
    ...(typeof m.tracestate === 'string' ? { tracestate: m.tracestate } : {}),
  };
}

/** The current trace as a carrier to put in a queue message (empty when telemetry is off). */
export function traceCarrier(): TraceCarrier {
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** Marks the message being handled as dead-lettered by the app itself (a malformed message). */
export function markPoisoned(namespace: string): void {
  const span = trace.getActiveSpan();
  span?.setAttribute(`${namespace}.poisoned`, true);
  span?.addEvent('poisoned: the message is sent to the poison queue');
}

/** What a message delivery is, for its span. */
export interface MessageDelivery {
  /** The prefix of the app's own attributes (`<namespace>.retry`, `<namespace>.poisoned`). */
  namespace: string;
  queue: string;
  messageId: string;
  dequeueCount: number;
  maxDequeueCount: number;
}

/**
 * Runs a queue-triggered handler in a consumer span that continues the trace the message carries. A
 * redelivery is marked as a retry; a failure on the last delivery, which sends the message to the poison
 * queue, is marked as poisoned.
 */
export async function inMessageSpan<T>(
  carrier: TraceCarrier,
  delivery: MessageDelivery,
  invocation: Invocation,
  run: () => Promise<T>,
): Promise<T> {
  if (!telemetryOn()) return run();
  const parent = carrier.traceparent
    ? propagation.extract(ROOT_CONTEXT, carrier)
    : parentOf(invocation, () => ({}));
  const span = tracer.startSpan(
    `process ${delivery.queue}`,
    {
      kind: kindOf(SpanKind.CONSUMER),
      attributes: {
        'messaging.system': 'azure_storage_queue',
        'messaging.operation.type': 'process',
        'messaging.destination.name': delivery.queue,
        'messaging.message.id': delivery.messageId,
        'messaging.azure.queue.dequeue_count': delivery.dequeueCount,
        [`${delivery.namespace}.retry`]: delivery.dequeueCount > 1,
        'faas.trigger': 'pubsub',
        'faas.invocation_id': invocation.invocationId,
      },
    },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), run);
  } catch (err) {
    const poisoned = delivery.dequeueCount >= delivery.maxDequeueCount;
    span.setAttribute('error.type', ensureError(err).name);
    span.setAttribute(`${delivery.namespace}.poisoned`, poisoned);
    if (poisoned) span.addEvent('poisoned: the host moves the message to the poison queue');
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span.end();
    writeRedisSpans(span);
  }
}
