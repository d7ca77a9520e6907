// Server states a failover passes through, against real replicas: writes get 503 (READONLY), reads keep
// working while they can, and a replica that refuses stale reads (MASTERDOWN) answers 503 for both.
import { join } from 'node:path';

import type { HttpHandler, HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';

import { testContext, testRequest } from '../support/context.js';
import { freshModules } from '../support/fresh.js';
import { admin } from '../support/redis.js';
import { freePort, type RedisProcess, startRedis } from '../support/servers.js';

const servers = inject('servers');
let primary: RedisProcess;
let replica: RedisProcess;
const stoppers: Array<() => Promise<void>> = [];

interface Handlers {
  getCart: HttpHandler;
  addCartItem: HttpHandler;
  getHealth: HttpHandler;
  close: () => Promise<void>;
}

/** The cart handlers with fresh module state, pointed at `port`. */
async function handlersFor(port: number): Promise<Handlers> {
  freshModules({ REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_CLUSTER: 'false' });
  const carts = await import('../../functions/carts.js');
  const { getHealth } = await import('../../functions/health.js');
  const { closeRedis } = await import('../../shared/redis/client.js');
  stoppers.push(closeRedis);
  return { getCart: carts.getCart, addCartItem: carts.addCartItem, getHealth, close: closeRedis };
}

async function invoke(
  handler: HttpHandler,
  method: string,
  path: string,
  params: Record<string, string>,
  body?: unknown,
): Promise<HttpResponseInit> {
  const request = testRequest(method, path, {
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  Object.assign(request.params, params);
  return await handler(request, testContext());
}

async function waitForSync(port: number): Promise<void> {
  const end = Date.now() + 15_000;
  for (;;) {
    const info = await admin(port, (c) => c.info('replication'));
    if (info.includes('master_link_status:up')) return;
    if (Date.now() > end) throw new Error('replica never synced');
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  const p = await freePort();
  primary = await startRedis(p, join(servers.workDir, `primary-${p}`));
  await admin(p, async (c) => {
    await c.hSet('user:1', { first_name: 'Parker', last_name: 'Perry' });
    await c.hSet('sku:sku123', { name: 'AirPods', price: '199.99' });
    await c.hSet('cart:1', { sku123: '2' });
  });
  const r = await freePort();
  replica = await startRedis(r, join(servers.workDir, `replica-${r}`), [
    '--replicaof',
    '127.0.0.1',
    String(p),
  ]);
  await waitForSync(r);
});

afterAll(async () => {
  for (const s of stoppers) await s();
  await replica.stop();
  await primary.stop();
});

describe('a failover in progress', () => {
  it('answers writes with 503 on a read-only replica and keeps serving reads', async () => {
    const h = await handlersFor(replica.port);
    const read = await invoke(h.getCart, 'GET', '/api/carts/1', { userId: '1' });
    expect(read.status).toBe(200);
    expect(JSON.parse(read.body as string)).toMatchObject({ total: '399.98' });
    const write = await invoke(
      h.addCartItem,
      'POST',
      '/api/carts/1/items',
      { userId: '1' },
      { skuId: 'sku123' },
    );
    expect(write.status).toBe(503);
    expect(write.headers).toMatchObject({ 'Retry-After': '5', 'Content-Type': 'application/problem+json' });
    expect(await admin(primary.port, (c) => c.hGetAll('cart:1'))).toEqual({ sku123: '2' });
    await h.close();
  });

  it('answers 503 for reads too when the replica has lost its primary and refuses stale data', async () => {
    await admin(replica.port, (c) => c.configSet({ 'replica-serve-stale-data': 'no' }));
    await primary.stop();
    const end = Date.now() + 10_000;
    while (!(await admin(replica.port, (c) => c.info('replication'))).includes('master_link_status:down')) {
      if (Date.now() > end) throw new Error('replica never noticed');
      await new Promise((r) => setTimeout(r, 100));
    }
    const h = await handlersFor(replica.port);
    const read = await invoke(h.getCart, 'GET', '/api/carts/1', { userId: '1' });
    expect(read.status).toBe(503);
    expect(read.headers).toMatchObject({ 'Retry-After': '5' });
    await h.close();
  });
});
