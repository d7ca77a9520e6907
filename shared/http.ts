import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { toErrorResponse } from './errors.js';

/** A handler body: may throw; the wrapper maps every failure through the one error mapper. */
export type RouteHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/** Wraps a route so that any thrown value becomes a problem+json response. */
export function route(fn: RouteHandler): HttpHandler {
  return async (request, context) => {
    try {
      return await fn(request, context);
    } catch (err) {
      return toErrorResponse(err, context);
    }
  };
}

/** A JSON response with the given status and extra headers. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'Cache-Control': 'no-store', ...headers } };
}
