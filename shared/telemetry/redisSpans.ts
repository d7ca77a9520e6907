// A client span per Redis command from node-redis's own tracing channel (node:diagnostics_channel): the
// library publishes each command; this turns it into a span under the request or message being handled.
// Only the command name, the server and the outcome are recorded: never arguments, keys or values.
import { tracingChannel } from 'node:diagnostics_channel';
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { CHANNELS } from 'redis';
import { tracer } from './tracer.js';

interface CommandContext {
  command?: unknown;
  serverAddress?: unknown;
  serverPort?: unknown;
  error?: unknown;
}

const spans = new WeakMap<object, Span>();
let subscribed = false;

/** Subscribes once; commands outside any request or message (pings, the watchdog) get no span. */
export function subscribeRedisSpans(): void {
  if (subscribed) return;
  subscribed = true;
  tracingChannel<unknown, CommandContext>(CHANNELS.TRACE_COMMAND).subscribe({
    start(ctx) {
      if (!trace.getSpan(context.active())) return;
      const command = typeof ctx.command === 'string' ? ctx.command.toUpperCase() : 'COMMAND';
      spans.set(
        ctx,
        tracer.startSpan(command, {
          kind: SpanKind.CLIENT,
          attributes: {
            'db.system.name': 'redis',
            'db.operation.name': command,
            ...(typeof ctx.serverAddress === 'string' ? { 'server.address': ctx.serverAddress } : {}),
            ...(typeof ctx.serverPort === 'number' ? { 'server.port': ctx.serverPort } : {}),
          },
        }),
      );
    },
    end() {},
    asyncStart() {},
    asyncEnd(ctx) {
      const span = spans.get(ctx);
      if (!span) return;
      spans.delete(ctx);
      span.end();
    },
    error(ctx) {
      const span = spans.get(ctx);
      if (!span) return;
      spans.delete(ctx);
      const name = ctx.error instanceof Error ? ctx.error.name : 'Error';
      span.setAttribute('error.type', name);
      span.setStatus({ code: SpanStatusCode.ERROR, message: name });
      span.end();
    },
  });
}
