// The OpenAPI 3.1 document, derived from the route declarations (shared/http/route.ts) and the error
// catalogue (shared/errors.ts): nothing about a route is written twice.
import { z } from 'zod';

import { ERROR_STATUS, type ErrorCode } from './errors.js';
import { Problem } from './http/problem.js';
import type { DeclaredRoute } from './http/route.js';

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  // The document declares the dialect once; per-schema $schema keys would only repeat it.
  const out = z.toJSONSchema(schema, { io, target: 'draft-2020-12' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

/** Every error code a route can answer: its own, and those of the HTTP work it shares with others. */
export function errorCodes(route: DeclaredRoute): ErrorCode[] {
  const codes = new Set<ErrorCode>(route.errors ?? []);
  if (route.params ?? route.query ?? route.body ?? route.headers ?? route.idempotent)
    codes.add('validation_failed');
  if (route.body) {
    if (!route.bodyOptional) codes.add('body_required');
    for (const c of ['invalid_json', 'body_too_large', 'unsupported_media_type'] as const) codes.add(c);
  }
  if (route.idempotent) {
    codes.add('idempotency_key_reused');
  }
  // Admin routes with sign-in on, and shopper routes, check a bearer token.
  if (route.authLevel === 'function')
    for (const c of ['unauthorized', 'forbidden', 'auth_unavailable'] as const) codes.add(c);
  codes.add('internal_error');
  if (!route.offline) codes.add('redis_unavailable');
  return [...codes];
}

function parameters(route: DeclaredRoute): unknown[] {
  const params: unknown[] = [];
  for (const [where, obj] of [
    ['path', route.params],
    ['query', route.query],
  ] as const) {
    if (!obj) continue;
    const shape: Record<string, z.ZodType> = obj.shape;
    for (const [name, schema] of Object.entries(shape)) {
      params.push({
        name,
        in: where,
        required: where === 'path' || !schema.safeParse(undefined).success,
        schema: jsonSchema(schema, 'input'),
      });
    }
  }
  const headers = [
    ...(route.headers ?? []),
    ...(route.idempotent
      ? [
          {
            name: 'Idempotency-Key',
            description:
              'Applied at most once for 24 hours: a retry of an applied key answers the success again (Idempotent-Replayed: true), never applies it twice; the same key with another request is 422',
          },
        ]
      : []),
  ];
  for (const h of headers) {
    params.push({
      name: h.name,
      in: 'header',
      required: false,
      description: h.description,
      schema: { type: 'string' },
    });
  }
  return params;
}

function errorResponses(route: DeclaredRoute): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodes(route)) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, unknown> = {};
  if (route.authLevel === 'function') out[401] = { description: 'Missing or wrong function key' };
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const schema = Problem.extend({ code: z.enum(codes as [ErrorCode, ...ErrorCode[]]) });
    out[status] = {
      description: codes.join(', '),
      ...(status === 503 ? { headers: { 'Retry-After': { schema: { type: 'string' } } } } : {}),
      content: { 'application/problem+json': { schema: jsonSchema(schema, 'output') } },
    };
  }
  return out;
}

function operation(route: DeclaredRoute): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(route.responses)) {
    const headers = Object.fromEntries((r.headers ?? []).map((h) => [h, { schema: { type: 'string' } }]));
    responses[status] = {
      description: r.description,
      ...(r.headers ? { headers } : {}),
      ...(r.schema ? { content: { 'application/json': { schema: jsonSchema(r.schema, 'output') } } } : {}),
      ...(r.contentType ? { content: { [r.contentType]: { schema: { type: 'string' } } } } : {}),
    };
  }
  return {
    operationId: route.name,
    summary: route.summary,
    tags: [route.tag],
    ...(route.bearer
      ? { security: [{ bearer: [] }] }
      : route.authLevel === 'anonymous'
        ? { security: [] }
        : {}),
    parameters: parameters(route),
    ...(route.body
      ? {
          requestBody: {
            required: !route.bodyOptional,
            content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
          },
        }
      : {}),
    responses: { ...responses, ...errorResponses(route) },
  };
}

/** The OpenAPI 3.1 document of the declared routes. */
export function openApiDocument(
  routes: readonly DeclaredRoute[],
  serverUrl = '/api',
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) (paths[route.path] ??= {})[route.method.toLowerCase()] = operation(route);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Shopping cart on Azure Functions + Azure Managed Redis',
      version: '1.0.0',
      description:
        'Users, SKUs and carts; amounts are decimal strings with two decimals, computed in integer cents. Every error is application/problem+json with a stable `code`.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: serverUrl }],
    // The header only: a key in the query string ends up in logs and browser history (the host accepts
    // ?code= too, but nothing here offers it).
    // Admin routes: the function key alone, or with a bearer token of the admin role once sign-in is on.
    security: [{ functionKey: [] }, { functionKey: [], bearer: [] }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name, description: `${name} operations` })),
    paths,
    components: {
      securitySchemes: {
        functionKey: { type: 'apiKey', in: 'header', name: 'x-functions-key' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      },
    },
  };
}
