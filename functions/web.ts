import { z } from 'zod';

import { defineRoute } from '../shared/http/route.js';
import * as web from '../shared/web/assets.js';

const html = {
  200: { description: 'The page (HTML; no data, no secret)', contentType: 'text/html' },
  308: {
    description: 'Asked for with a trailing slash: the canonical URL is in Location',
    headers: ['Location'],
  },
};

export const getDocsPage = defineRoute({
  name: 'getDocsPage',
  method: 'GET',
  path: '/docs',
  authLevel: 'anonymous',
  summary: 'Interactive reference of this document (Swagger UI); "Try it out" takes a function key you type',
  tag: 'pages',
  offline: true,
  responses: html,
  errors: ['asset_not_found'],
  handler: ({ request }) => Promise.resolve(web.page('docs', new URL(request.url))),
});

export const getAppPage = defineRoute({
  name: 'getAppPage',
  method: 'GET',
  path: '/app',
  authLevel: 'anonymous',
  summary: 'Storefront and biglist console on this API; the function key you type stays in the tab',
  tag: 'pages',
  offline: true,
  responses: html,
  errors: ['asset_not_found'],
  handler: ({ request }) => Promise.resolve(web.page('app', new URL(request.url))),
});

export const getWebAsset = defineRoute({
  name: 'getWebAsset',
  method: 'GET',
  path: '/assets/{file}',
  authLevel: 'anonymous',
  summary: 'A script, style sheet or image of the pages, by its content-hashed name',
  tag: 'pages',
  offline: true,
  params: z.object({ file: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/) }),
  responses: { 200: { description: 'The file, cached for a year', contentType: 'application/octet-stream' } },
  errors: ['asset_not_found'],
  handler: ({ params }) => Promise.resolve(web.asset(params.file)),
});
