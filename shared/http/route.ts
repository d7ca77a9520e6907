// Routes are declared once: method, path, auth level, schemas, responses and the error codes they can
// answer. `defineRoute` registers the function with `app.http` and keeps the declaration, from which
// shared/openapi.ts derives the document. The wrapper does the HTTP work every route shares: validation by
// target (path, query, body), Idempotency-Key, and mapping every failure to problem+json.
import {
  app,
  type HttpHandler,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import type { z } from 'zod';

import { type Principal, verifyBearer } from '../auth/verify.js';
import { getConfig } from '../config.js';
import { type ErrorCode, errors } from '../errors.js';
import type { Idempotency } from '../idempotency.js';
import { inRequestSpan } from '../telemetry/spans.js';
import { idempotencyOf } from './idempotency.js';
import { problemCodeOf, toErrorResponse } from './problem.js';
import { parseJsonBody, parseWith, queryOf, readBodyText } from './request.js';
import { API_SECURITY_HEADERS } from './security.js';

/** A documented success response. */
export interface SuccessResponse {
  description: string;
  schema?: z.ZodType;
  headers?: string[];
  /** A body that is not JSON, by media type (text/plain for the export, text/html for the pages). */
  contentType?: string;
}

/** A request header a route reads, documented. */
export interface HeaderDoc {
  name: string;
  description: string;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a handler gets: the validated path, query, body and Idempotency-Key, and the request for anything else. */
export interface RouteInput<P, Q, B> {
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
  /** The request's Idempotency-Key and fingerprint, on routes that honour the header. */
  idempotency: Idempotency | undefined;
  /** Who the verified bearer token speaks for: always on shopper routes, on admin routes when sign-in is on. */
  principal: Principal | undefined;
  request: HttpRequest;
}

/** A route as documented: everything but the handler. */
export interface DeclaredRoute {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** As the host's route template, with a leading slash: `/carts/{userId}/items`. */
  path: string;
  authLevel: 'anonymous' | 'function';
  summary: string;
  tag: string;
  params?: z.ZodObject | undefined;
  query?: z.ZodObject | undefined;
  body?: z.ZodType | undefined;
  /** An empty body counts as `{}` instead of body_required. */
  bodyOptional?: boolean;
  /** Headers the handler reads itself (Idempotency-Key is added for idempotent routes). */
  headers?: HeaderDoc[];
  /** Success responses by status. */
  responses: Record<number, SuccessResponse>;
  /** Error codes the route's own rules can answer (the ones every route shares are added by the document). */
  errors?: ErrorCode[];
  /** Whether the route honours Idempotency-Key. */
  idempotent?: boolean;
  /** The route answers without Redis (so never redis_unavailable). */
  offline?: boolean;
  /** The route takes a bearer access token (verified by the app, not the host). */
  bearer?: boolean;
}

/** A route's full declaration. */
export interface RouteSpec<
  P extends z.ZodObject | undefined,
  Q extends z.ZodObject | undefined,
  B extends z.ZodType | undefined,
> extends Omit<DeclaredRoute, 'params' | 'query' | 'body' | 'idempotent'> {
  params?: P;
  query?: Q;
  body?: B;
  /**
   * When set, the route honours Idempotency-Key: this names the operation and its target, and is part of
   * the fingerprint a reused key is compared by. The handler passes the key to its service, whose store
   * records it with the change.
   */
  idempotency?: (input: { params: Out<P>; query: Out<Q> }) => string;
  handler: (input: RouteInput<P, Q, B>, context: InvocationContext) => Promise<HttpResponseInit>;
}

const declared: DeclaredRoute[] = [];

/** Registers a route with the Functions host and keeps its declaration; returns the wrapped handler. */
export function defineRoute<
  P extends z.ZodObject | undefined = undefined,
  Q extends z.ZodObject | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(spec: RouteSpec<P, Q, B>): HttpHandler {
  const inner = async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    try {
      // Who may call comes before what they sent: a stranger learns nothing from validation errors.
      const principal =
        spec.authLevel === 'function'
          ? await adminGate(request)
          : spec.bearer
            ? await verifyBearer(request.headers.get('authorization'))
            : undefined;
      const params = (
        spec.params ? parseWith(spec.params, { ...request.params }, 'path') : undefined
      ) as Out<P>;
      const query = (spec.query ? parseWith(spec.query, queryOf(request), 'query') : undefined) as Out<Q>;
      const text = spec.body ? await readBodyText(request) : '';
      const body = (spec.body ? parseJsonBody(text, spec.body, spec.bodyOptional) : undefined) as Out<B>;
      const idempotency = spec.idempotency
        ? idempotencyOf(request, spec.idempotency({ params, query }), text)
        : undefined;
      return await spec.handler({ params, query, body, idempotency, principal, request }, context);
    } catch (err) {
      return toErrorResponse(err, context);
    }
  };
  const handler: HttpHandler = (request, context) =>
    inRequestSpan(
      spec.method,
      spec.path,
      request,
      context,
      async () => withSecurityHeaders(await inner(request, context)),
      problemCodeOf,
    );
  app.http(spec.name, {
    route: spec.path.slice(1),
    methods: [spec.method],
    authLevel: spec.authLevel,
    handler,
  });
  declared.push({
    name: spec.name,
    method: spec.method,
    path: spec.path,
    authLevel: spec.authLevel,
    summary: spec.summary,
    tag: spec.tag,
    params: spec.params,
    query: spec.query,
    body: spec.body,
    bodyOptional: spec.bodyOptional ?? false,
    headers: spec.headers ?? [],
    responses: spec.responses,
    errors: spec.errors ?? [],
    idempotent: spec.idempotency !== undefined,
    offline: spec.offline ?? false,
    bearer: spec.bearer ?? false,
  });
  return handler;
}

/**
 * Admin routes: the host checks the function key; with sign-in configured they also need a bearer token with
 * the admin role (automation gets one by client credentials), 401 without a valid token, 403 without the role.
 */
async function adminGate(request: HttpRequest): Promise<Principal | undefined> {
  const auth = getConfig().auth;
  if (!auth) return undefined;
  const principal = await verifyBearer(request.headers.get('authorization'));
  if (!principal.admin) throw errors.forbidden(auth.adminRole);
  return principal;
}

/**
 * Adds the security headers a response does not set itself (the pages set their own policy), in place:
 * the response object is what telemetry knows a problem's code by.
 */
function withSecurityHeaders(res: HttpResponseInit): HttpResponseInit {
  const headers = res.headers;
  if (headers instanceof Headers) {
    for (const [k, v] of Object.entries(API_SECURITY_HEADERS)) if (!headers.has(k)) headers.set(k, v);
  } else {
    res.headers = { ...API_SECURITY_HEADERS, ...((headers ?? {}) as Record<string, string>) };
  }
  return res;
}

/** Every route declared so far (all of them once the app's function files are loaded). */
export function declaredRoutes(): readonly DeclaredRoute[] {
  return declared;
}

/** A JSON response with the given status and extra headers. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return jsonText(status, JSON.stringify(body), headers);
}

/**
 * A JSON response from text already serialized (a cart's, whose ETag was taken of the same text). Its length
 * is sent, so the response goes out in one write, not chunked.
 */
export function jsonText(
  status: number,
  text: string,
  headers: Record<string, string> = {},
): HttpResponseInit {
  const length = String(Buffer.byteLength(text));
  return {
    status,
    body: text,
    headers: {
      'Content-Type': 'application/json',
      'Content-Length': length,
      'Cache-Control': 'no-store',
      ...headers,
    },
  };
}

/** An empty response (204 and the like). */
export function empty(status = 204, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, headers };
}
