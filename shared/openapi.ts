import {
  BiglistPage,
  ExportQuery,
  LoadAccepted,
  LoadPath,
  LoadStatus,
  ReadQuery,
  StartLoadInput,
} from './biglist/schema.js';
import { z } from 'zod';
import {
  AddCartItemInput,
  Cart,
  CartItemPath,
  CartPath,
  RemoveCartItemQuery,
  SetCartItemInput,
} from './carts/schema.js';
import { ListSkusQuery, PutSkuInput, Sku, SkuPage, SkuPath } from './skus/schema.js';
import { CreateUserInput, UpdateUserInput, User, UserPath } from './users/schema.js';

/** RFC 9457 problem details, as every error is sent. */
export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
  code: z.string().meta({ description: 'Stable machine-readable error code' }),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

const Health = z.object({
  status: z.literal('ok'),
  redis: z.object({
    mode: z.enum(['standalone', 'cluster']),
    tls: z.boolean(),
    auth: z.enum(['none', 'password', 'entra']),
    latencyMs: z.number(),
  }),
});

type Schema = z.ZodType;

/** One operation of the API, described by the schemas that validate it. */
export interface Operation {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  auth?: boolean;
  pathParams?: z.ZodObject;
  query?: z.ZodObject;
  headers?: Array<{ name: string; description: string }>;
  body?: Schema;
  responses: Record<number, { description: string; schema?: Schema; headers?: string[]; text?: boolean }>;
}

const problem = (description: string) => ({ description, schema: Problem });
const errors = {
  400: problem('Invalid input'),
  401: { description: 'Missing or wrong function key' },
  503: { ...problem('Redis is unavailable'), headers: ['Retry-After'] },
};
const idem = {
  name: 'Idempotency-Key',
  description: 'Replays the first response for 24 hours; another body with the same key is 422',
};
const ifMatch = {
  name: 'If-Match',
  description:
    'Strong ETag(s) of the cart this change is based on, or "*" (RFC 9110): 412 when none is the current ETag; weak tags never match; 400 only when the header is malformed. The ETag changes whenever the cart representation does, a SKU price change included',
};
const cartOk = { description: 'The cart', schema: Cart, headers: ['ETag'] };

/** Every operation the API serves; the document and the tests both read this list. */
export const operations: Operation[] = [
  {
    method: 'get',
    path: '/health',
    operationId: 'getHealth',
    summary: 'Redis connectivity',
    tag: 'health',
    auth: false,
    responses: { 200: { description: 'Healthy', schema: Health }, 503: errors[503] },
  },
  {
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApi',
    summary: 'This document',
    tag: 'meta',
    auth: false,
    responses: { 200: { description: 'OpenAPI 3.1 document' } },
  },
  {
    method: 'post',
    path: '/users',
    operationId: 'createUser',
    summary: 'Create a user',
    tag: 'users',
    headers: [idem],
    body: CreateUserInput,
    responses: {
      201: { description: 'Created', schema: User, headers: ['Location'] },
      ...errors,
      409: problem('Id taken, or same key in progress'),
      413: problem('Body too large'),
      422: problem('Idempotency key reused'),
    },
  },
  {
    method: 'get',
    path: '/users/{userId}',
    operationId: 'getUser',
    summary: 'Read a user',
    tag: 'users',
    pathParams: UserPath,
    responses: { 200: { description: 'The user', schema: User }, ...errors, 404: problem('Unknown user') },
  },
  {
    method: 'patch',
    path: '/users/{userId}',
    operationId: 'updateUser',
    summary: 'Update a user',
    tag: 'users',
    pathParams: UserPath,
    body: UpdateUserInput,
    responses: { 200: { description: 'The user', schema: User }, ...errors, 404: problem('Unknown user') },
  },
  {
    method: 'delete',
    path: '/users/{userId}',
    operationId: 'deleteUser',
    summary: 'Delete a user and their cart',
    tag: 'users',
    pathParams: UserPath,
    responses: { 204: { description: 'Deleted' }, ...errors, 404: problem('Unknown user') },
  },
  {
    method: 'put',
    path: '/skus/{skuId}',
    operationId: 'putSku',
    summary: 'Create or replace a SKU',
    tag: 'skus',
    pathParams: SkuPath,
    body: PutSkuInput,
    responses: {
      200: { description: 'Replaced', schema: Sku },
      201: { description: 'Created', schema: Sku, headers: ['Location'] },
      ...errors,
    },
  },
  {
    method: 'get',
    path: '/skus/{skuId}',
    operationId: 'getSku',
    summary: 'Read a SKU',
    tag: 'skus',
    pathParams: SkuPath,
    responses: { 200: { description: 'The SKU', schema: Sku }, ...errors, 404: problem('Unknown SKU') },
  },
  {
    method: 'get',
    path: '/skus',
    operationId: 'listSkus',
    summary: 'Page through SKUs',
    tag: 'skus',
    query: ListSkusQuery,
    responses: { 200: { description: 'A page', schema: SkuPage }, ...errors },
  },
  {
    method: 'delete',
    path: '/skus/{skuId}',
    operationId: 'deleteSku',
    summary: 'Delete a SKU',
    tag: 'skus',
    pathParams: SkuPath,
    responses: { 204: { description: 'Deleted' }, ...errors, 404: problem('Unknown SKU') },
  },
  {
    method: 'get',
    path: '/carts/{userId}',
    operationId: 'getCart',
    summary: 'Read a cart with totals',
    tag: 'carts',
    pathParams: CartPath,
    responses: { 200: cartOk, ...errors, 404: problem('Unknown user') },
  },
  {
    method: 'delete',
    path: '/carts/{userId}',
    operationId: 'clearCart',
    summary: 'Empty a cart',
    tag: 'carts',
    pathParams: CartPath,
    responses: { 204: { description: 'Emptied' }, ...errors, 404: problem('Unknown user') },
  },
  {
    method: 'post',
    path: '/carts/{userId}/items',
    operationId: 'addCartItem',
    summary: 'Add to a cart line',
    tag: 'carts',
    pathParams: CartPath,
    headers: [idem],
    body: AddCartItemInput,
    responses: {
      200: cartOk,
      ...errors,
      404: problem('Unknown user or SKU'),
      409: problem('Line maximum reached, or same key in progress'),
      413: problem('Body too large'),
      422: problem('Idempotency key reused'),
    },
  },
  {
    method: 'put',
    path: '/carts/{userId}/items/{skuId}',
    operationId: 'setCartItem',
    summary: "Set a line's quantity (0 removes it)",
    tag: 'carts',
    pathParams: CartItemPath,
    headers: [ifMatch],
    body: SetCartItemInput,
    responses: {
      200: cartOk,
      ...errors,
      404: problem('Unknown user or SKU'),
      409: problem('Line maximum reached'),
      412: problem('Precondition failed: the cart (or a price in it) changed since that ETag'),
    },
  },
  {
    method: 'delete',
    path: '/carts/{userId}/items/{skuId}',
    operationId: 'removeCartItem',
    summary: 'Decrement or remove a line',
    tag: 'carts',
    pathParams: CartItemPath,
    query: RemoveCartItemQuery,
    headers: [ifMatch],
    responses: {
      200: cartOk,
      ...errors,
      404: problem('Unknown user or line'),
      412: problem('Precondition failed: the cart (or a price in it) changed since that ETag'),
    },
  },
  {
    method: 'post',
    path: '/biglist/loads',
    operationId: 'startBiglistLoad',
    summary: 'Load 1..count into the list (queued, in segments)',
    tag: 'biglist',
    headers: [idem],
    body: StartLoadInput,
    responses: {
      202: { description: 'Accepted', schema: LoadAccepted, headers: ['Location'] },
      ...errors,
      409: problem('Another load is making progress'),
      422: problem('Idempotency key reused'),
      503: {
        ...problem('Redis or the work queue is unavailable; nothing was claimed, so a retry starts the load'),
        headers: ['Retry-After'],
      },
    },
  },
  {
    method: 'delete',
    path: '/biglist/loads/{loadId}',
    operationId: 'cancelBiglistLoad',
    summary: 'Cancel a load in progress (its data is removed; the published list stays)',
    tag: 'biglist',
    pathParams: LoadPath,
    responses: {
      200: { description: 'Cancelled (also when it already was)', schema: LoadStatus },
      ...errors,
      404: problem('Unknown load'),
      409: problem('The load already completed or failed'),
    },
  },
  {
    method: 'get',
    path: '/biglist/loads/{loadId}',
    operationId: 'getBiglistLoad',
    summary:
      "A load's progress; a load with no progress for BIGLIST_STALL_SECONDS reads (and becomes) failed",
    tag: 'biglist',
    pathParams: LoadPath,
    responses: {
      200: { description: 'Progress', schema: LoadStatus },
      ...errors,
      404: problem('Unknown load'),
    },
  },
  {
    method: 'get',
    path: '/biglist/export',
    operationId: 'exportBiglist',
    summary:
      'The whole published list as text, one value per line, streamed; cut off (never mixed) if the list is replaced meanwhile',
    tag: 'biglist',
    query: ExportQuery,
    responses: {
      200: {
        description: 'Every value of the published load, newest first (desc) or oldest first (asc)',
        headers: ['X-Biglist-Load', 'X-Biglist-Count'],
        text: true,
      },
      ...errors,
      404: problem('Nothing published yet'),
    },
  },
  {
    method: 'get',
    path: '/biglist',
    operationId: 'readBiglist',
    summary: 'A page of the list, newest first by default',
    tag: 'biglist',
    query: ReadQuery,
    responses: {
      200: { description: 'A page', schema: BiglistPage },
      ...errors,
      410: problem('The list was replaced; restart without a cursor'),
    },
  },
];

function jsonSchema(schema: Schema, io: 'input' | 'output'): Record<string, unknown> {
  // The document declares the dialect once; per-schema $schema keys would only repeat it.
  const out = z.toJSONSchema(schema, { io, target: 'draft-2020-12' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

function parameters(op: Operation): unknown[] {
  const params: unknown[] = [];
  for (const [where, obj] of [
    ['path', op.pathParams],
    ['query', op.query],
  ] as const) {
    if (!obj) continue;
    const shape: Record<string, Schema> = obj.shape;
    for (const [name, schema] of Object.entries(shape)) {
      const optional = schema.safeParse(undefined).success;
      params.push({
        name,
        in: where,
        required: where === 'path' || !optional,
        schema: jsonSchema(schema, 'input'),
      });
    }
  }
  for (const h of op.headers ?? [])
    params.push({
      name: h.name,
      in: 'header',
      required: false,
      description: h.description,
      schema: { type: 'string' },
    });
  return params;
}

/** The OpenAPI 3.1 document of the whole API, generated from the validating schemas. */
export function openApiDocument(serverUrl = '/api'): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(op.responses)) {
      const headers = Object.fromEntries((r.headers ?? []).map((h) => [h, { schema: { type: 'string' } }]));
      const type = r.schema === Problem ? 'application/problem+json' : 'application/json';
      responses[status] = {
        description: r.description,
        ...(r.headers ? { headers } : {}),
        ...(r.schema ? { content: { [type]: { schema: jsonSchema(r.schema, 'output') } } } : {}),
        ...(r.text ? { content: { 'text/plain': { schema: { type: 'string' } } } } : {}),
      };
    }
    (paths[op.path] ??= {})[op.method] = {
      operationId: op.operationId,
      summary: op.summary,
      tags: [op.tag],
      ...(op.auth === false ? { security: [] } : {}),
      parameters: parameters(op),
      ...(op.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: jsonSchema(op.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Shopping cart on Azure Functions + Azure Managed Redis',
      version: '1.0.0',
      description:
        'Users, SKUs and carts; amounts are decimal strings with two decimals, computed in integer cents.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: serverUrl }],
    security: [{ functionKey: [] }, { functionKeyQuery: [] }],
    tags: ['health', 'meta', 'users', 'skus', 'carts', 'biglist'].map((name) => ({
      name,
      description: `${name} operations`,
    })),
    paths,
    components: {
      securitySchemes: {
        functionKey: { type: 'apiKey', in: 'header', name: 'x-functions-key' },
        functionKeyQuery: { type: 'apiKey', in: 'query', name: 'code' },
      },
    },
  };
}
