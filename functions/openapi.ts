import { app } from '@azure/functions';
import { json, route } from '../shared/http.js';
import { openApiDocument } from '../shared/openapi.js';

let document: Record<string, unknown> | undefined;

/** GET /api/openapi.json: the OpenAPI 3.1 document, generated once from the validating schemas. */
export const getOpenApi = route(async () => {
  document ??= openApiDocument();
  return Promise.resolve(json(200, document, { 'Cache-Control': 'public, max-age=300' }));
});

app.http('getOpenApi', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: getOpenApi,
});
