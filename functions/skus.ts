import { app } from '@azure/functions';
import { empty, json, parsePath, parseQuery, readJson, route } from '../shared/http.js';
import { ListSkusQuery, PutSkuInput, SkuPath } from '../shared/skus/schema.js';
import * as skus from '../shared/skus/service.js';

/** PUT /api/skus/{skuId}: creates (201) or replaces (200) a SKU. */
export const putSku = route(async (request) => {
  const { skuId } = parsePath(request, SkuPath);
  const { sku, created } = await skus.putSku(skuId, await readJson(request, PutSkuInput));
  return json(created ? 201 : 200, sku, created ? { Location: `/api/skus/${skuId}` } : {});
});

/** GET /api/skus/{skuId}. */
export const getSku = route(async (request) =>
  json(200, await skus.getSku(parsePath(request, SkuPath).skuId)),
);

/** GET /api/skus?limit=&cursor=: a page of SKUs. */
export const listSkus = route(async (request) => {
  const { limit, cursor } = parseQuery(request, ListSkusQuery);
  return json(200, await skus.listSkus(limit, cursor));
});

/** DELETE /api/skus/{skuId}. */
export const deleteSku = route(async (request) => {
  await skus.deleteSku(parsePath(request, SkuPath).skuId);
  return empty();
});

app.http('putSku', { route: 'skus/{skuId}', methods: ['PUT'], authLevel: 'function', handler: putSku });
app.http('getSku', { route: 'skus/{skuId}', methods: ['GET'], authLevel: 'function', handler: getSku });
app.http('listSkus', { route: 'skus', methods: ['GET'], authLevel: 'function', handler: listSkus });
app.http('deleteSku', {
  route: 'skus/{skuId}',
  methods: ['DELETE'],
  authLevel: 'function',
  handler: deleteSku,
});
