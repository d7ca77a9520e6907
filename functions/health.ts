import { HealthReport } from '../shared/health/schema.js';
import { checkHealth } from '../shared/health/service.js';
import { defineRoute, json } from '../shared/http/route.js';

export const getHealth = defineRoute({
  name: 'getHealth',
  method: 'GET',
  path: '/health',
  authLevel: 'anonymous',
  summary: 'Whether Redis answers (a PING to every primary), and how fast',
  tag: 'health',
  responses: { 200: { description: 'Healthy', schema: HealthReport } },
  handler: async () => json(200, await checkHealth()),
});
