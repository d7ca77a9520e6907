import { app } from '@azure/functions';
import { checkHealth } from '../shared/health/service.js';
import { json, route } from '../shared/http.js';

/** GET /api/health: reports whether Redis answers, and how fast. */
export const getHealth = route(async () => json(200, await checkHealth()));

app.http('getHealth', { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: getHealth });
