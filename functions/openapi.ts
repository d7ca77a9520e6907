import { declaredRoutes, defineRoute, json } from '../shared/http/route.js';
import { openApiDocument } from '../shared/openapi.js';

let document: Record<string, unknown> | undefined;

export const getOpenApi = defineRoute({
  name: 'getOpenApi',
  method: 'GET',
  path: '/openapi.json',
  authLevel: 'anonymous',
  summary: 'This document',
  tag: 'meta',
  offline: true,
  responses: { 200: { description: 'OpenAPI 3.1 document' } },
  handler: () => {
    // Built on first use: by then every function file has declared its routes.
    document ??= openApiDocument(declaredRoutes());
    return Promise.resolve(json(200, document, { 'Cache-Control': 'public, max-age=300' }));
  },
});
