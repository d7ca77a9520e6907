// A client span per Redis command from node-redis's own tracing channel (node:diagnostics_channel): the
// library publishes each command; this records it under the request or message being handled. Only the
// command name, the server and the outcome are recorded: never arguments, keys or values.
//
// A command is first noted cheaply (name, times, outcome) and becomes a span only when its invocation's
// trace is kept by the sampling: a span costs about 5 µs to make and end, a request runs 5 to 25
// commands, and most successful traces are dropped anyway (docs/observability.md).
import { tracingChannel } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';

import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { CHANNELS } from 'redis';

import { ensureError } from '../errors.js';
import { traceKept } from './keepFailures.js';
import { tracer } from './tracer.js';

// Each command's note rides on the context object node-redis publishes for it: a WeakMap keyed by such a
// short-lived object adds ephemeron work to every garbage collection, a property does not.
const NOTE = Symbol('redis command note');

interface CommandContext {
  command?: unknown;
  serverAddress?: unknown;
  serverPort?: unknown;
  error?: unknown;
  [NOTE]?: Command;
}

interface Command {
  name: string;
  server: unknown;
  port: unknown;
  start: number;
  end: number;
  error?: string;
}

// Per invocation span, the commands it ran. Process-wide, as the telemetry flag: the subscriber may come
// from a second copy of this module (a test starts telemetry from the sources, the runner loads the build).
const registry = globalThis as Record<symbol, WeakMap<Span, Command[]> | undefined>;
const byInvocation = (registry[Symbol.for('azure-redis-cart.redis-commands')] ??= new WeakMap());
let subscribed = false;

const now = () => performance.timeOrigin + performance.now();

function finish(ctx: CommandContext, error?: unknown): void {
  const command = ctx[NOTE];
  if (!command) return;
  ctx[NOTE] = undefined;
  command.end = now();
  if (error !== undefined) command.error = ensureError(error).name;
}

/** Subscribes once; commands outside any request or message (pings, the watchdog) are not recorded. */
export function subscribeRedisSpans(): void {
  if (subscribed) return;
  subscribed = true;
  tracingChannel<unknown, CommandContext>(CHANNELS.TRACE_COMMAND).subscribe({
    start(ctx) {
      const span = trace.getSpan(context.active());
      if (!span) return;
      const commands = byInvocation.get(span);
      const command: Command = {
        // node-redis publishes the name upper-cased.
        name: typeof ctx.command === 'string' ? ctx.command : 'COMMAND',
        server: ctx.serverAddress,
        port: ctx.serverPort,
        start: now(),
        end: Number.NaN,
      };
      if (commands) commands.push(command);
      else byInvocation.set(span, [command]);
      ctx[NOTE] = command;
    },
    end() {},
    asyncStart() {},
    asyncEnd(ctx) {
      finish(ctx);
    },
    error(ctx) {
      finish(ctx, ctx.error ?? 'Error');
    },
  });
}

/**
 * Writes the Redis commands an invocation ran as its child spans, after the invocation's span ended and
 * only if its trace is kept. A command still in flight (the reply streamed on) ends where the span did.
 */
export function writeRedisSpans(invocation: Span): void {
  const commands = byInvocation.get(invocation);
  if (!commands) return;
  byInvocation.delete(invocation);
  if (!traceKept(invocation.spanContext().traceId)) return;
  const parent = trace.setSpan(context.active(), invocation);
  const ended = now();
  for (const c of commands) {
    const span = tracer.startSpan(
      c.name,
      {
        kind: SpanKind.CLIENT,
        startTime: c.start,
        attributes: {
          'db.system.name': 'redis',
          'db.operation.name': c.name,
          ...(typeof c.server === 'string' ? { 'server.address': c.server } : {}),
          ...(typeof c.port === 'number' ? { 'server.port': c.port } : {}),
        },
      },
      parent,
    );
    if (c.error) {
      span.setAttribute('error.type', c.error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: c.error });
    }
    span.end(Number.isNaN(c.end) ? ended : c.end);
  }
}
