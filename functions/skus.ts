import { defineRoute, empty, json } from '../shared/http/route.js';
import { ListSkusQuery, PutSkuInput, Sku, SkuPage, SkuPath } from '../shared/skus/schema.js';
import * as skus from '../shared/skus/service.js';

export const putSku = defineRoute({
  name: 'putSku',
  method: 'PUT',
  path: '/skus/{skuId}',
  authLevel: 'function',
  summary: 'Create (201) or replace (200) a SKU',
  tag: 'skus',
  params: SkuPath,
  body: PutSkuInput,
  responses: {
    200: { description: 'Replaced', schema: Sku },
    201: { description: 'Created', schema: Sku, headers: ['Location'] },
  },
  handler: async ({ params, body }) => {
    const { sku, created } = await skus.putSku(params.skuId, body);
    return json(created ? 201 : 200, sku, created ? { Location: `/api/skus/${params.skuId}` } : {});
  },
});

export const getSku = defineRoute({
  name: 'getSku',
  method: 'GET',
  path: '/skus/{skuId}',
  // A catalogue is public: anyone may read it, only the admin role may change it.
  authLevel: 'anonymous',
  summary: 'Read a SKU',
  tag: 'skus',
  params: SkuPath,
  responses: { 200: { description: 'The SKU', schema: Sku } },
  errors: ['sku_not_found'],
  handler: async ({ params }) => json(200, await skus.getSku(params.skuId)),
});

export const listSkus = defineRoute({
  name: 'listSkus',
  method: 'GET',
  path: '/skus',
  authLevel: 'anonymous',
  summary: 'A page of SKUs in id order, with a cursor',
  tag: 'skus',
  query: ListSkusQuery,
  responses: { 200: { description: 'A page', schema: SkuPage } },
  errors: ['invalid_cursor'],
  handler: async ({ query }) => json(200, await skus.listSkus(query.limit, query.cursor)),
});

export const deleteSku = defineRoute({
  name: 'deleteSku',
  method: 'DELETE',
  path: '/skus/{skuId}',
  authLevel: 'function',
  summary: 'Delete a SKU (cart lines naming it then read as unavailable)',
  tag: 'skus',
  params: SkuPath,
  responses: { 204: { description: 'Deleted' } },
  errors: ['sku_not_found'],
  handler: async ({ params }) => {
    await skus.deleteSku(params.skuId);
    return empty();
  },
});
