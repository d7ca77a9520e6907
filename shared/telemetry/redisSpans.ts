// A client span per Redis command from node-redis's own tracing channels (node:diagnostics_channel): the
// library publishes each command, and each MULTI or pipeline as one batch (whose commands it does not
// publish one by one); this records them under the request or message being handled, a batch as one span
// named MULTI or PIPELINE with its command count. Only the command name, the server and the outcome are
// recorded: never arguments, keys or values.
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
  batchMode?: unknown;
  batchSize?: unknown;
  serverAddress?: unknown;
  serverPort?: unknown;
  error?: unknown;
  [NOTE]?: Command;
}

interface Command {
  name: string;
  /** Commands in a MULTI or pipeline; undefined for a single command. */
  batchSize: number | undefined;
  server: unknown;
  port: unknown;
  start: number;
  end: number;
  error?: string;
}

// Per invocation span, the commands it ran.
const byInvocation = new WeakMap<Span, Command[]>();
let subscribed = false;

const now = () => performance.timeOrigin + performance.now();

function finish(ctx: CommandContext, error?: unknown): void {
  const command = ctx[NOTE];
  if (!command) return;
  ctx[NOTE] = undefined;
  command.end = now();
  if (error !== undefined) command.error = errorType(error);
}

/** The error's class: node-redis's reply errors keep the name `Error`, so their constructor names them. */
function errorType(error: unknown): string {
  const e = ensureError(error);
  return e.name !== 'Error' ? e.name : e.constructor.name;
}

/** Notes a command or a batch when it starts under an invocation's span. */
function noteStart(ctx: CommandContext, name: string, batchSize: number | undefined): void {
  const span = trace.getSpan(context.active());
  if (!span) return;
  const commands = byInvocation.get(span);
  const command: Command = {
    name,
    batchSize,
    server: ctx.serverAddress,
    port: ctx.serverPort,
    start: now(),
    end: Number.NaN,
  };
  if (commands) commands.push(command);
  else byInvocation.set(span, [command]);
  ctx[NOTE] = command;
}

const ends = {
  end() {},
  asyncStart() {},
  asyncEnd(ctx: CommandContext) {
    finish(ctx);
  },
  error(ctx: CommandContext) {
    finish(ctx, ctx.error ?? 'Error');
  },
};

/** Subscribes once; commands outside any request or message (pings, the watchdog) are not recorded. */
export function subscribeRedisSpans(): void {
  if (subscribed) return;
  subscribed = true;
  tracingChannel<unknown, CommandContext>(CHANNELS.TRACE_COMMAND).subscribe({
    start(ctx) {
      // node-redis publishes the name upper-cased.
      noteStart(ctx, typeof ctx.command === 'string' ? ctx.command : 'COMMAND', undefined);
    },
    ...ends,
  });
  tracingChannel<unknown, CommandContext>(CHANNELS.TRACE_BATCH).subscribe({
    start(ctx) {
      const mode = ctx.batchMode === 'PIPELINE' ? 'PIPELINE' : 'MULTI';
      noteStart(ctx, mode, typeof ctx.batchSize === 'number' ? ctx.batchSize : undefined);
    },
    ...ends,
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
          ...(c.batchSize === undefined ? {} : { 'db.operation.batch.size': c.batchSize }),
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
