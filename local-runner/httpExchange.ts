// What the runner's HTTP paths share: one request being answered, the options, and small helpers.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

import type { BindingInfo, LogSink, RegisteredFunction, TypedData } from './core.js';

/** Options for serving the app's HTTP functions. */
export interface HttpOptions {
  routePrefix: string;
  /** When set, routes with authLevel function/admin need it as `x-functions-key` or `?code=`. */
  functionKey: string | undefined;
  /** Largest request body; a larger one is refused (413) while it streams in, never buffered whole. */
  maxBodyBytes: number;
  /** The app's own HTTP server when it enabled HTTP streaming (capability `HttpUri`); undefined otherwise. */
  appServer?: Server | undefined;
  /** Sends a function's non-HTTP outputs (queue messages) after a successful invocation. */
  sendOutputs: (
    fn: RegisteredFunction,
    outputs: Array<{ name?: string | null; data?: TypedData | null }>,
  ) => Promise<void>;
  log: LogSink;
}

/** One request routed to a function, and how to refuse its body or log its end. */
export interface Exchange {
  fn: RegisteredFunction;
  params: Record<string, string>;
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** The request's headers, one string each. */
  headers: Record<string, string>;
  /** Answers 413: the body is over the limit. */
  refuse: () => void;
  /** Logs the request's outcome with its time. */
  logDone: (status: number) => void;
}

/** A function's HTTP trigger binding and its name, if it has one. */
export function httpTriggerOf(fn: RegisteredFunction): { name: string; binding: BindingInfo } | undefined {
  const entry = Object.entries(fn.metadata.bindings).find(([, b]) => b.type === 'httpTrigger');
  return entry && { name: entry[0], binding: entry[1] };
}

/** The name of a function's HTTP trigger binding (`req` when unnamed). */
export const triggerName = (fn: RegisteredFunction) => httpTriggerOf(fn)?.name ?? 'req';

/** Ends a response with no body. */
export function plainEnd(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Length': '0', ...headers });
  res.end();
}
