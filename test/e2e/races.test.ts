// Two app instances (separate processes) racing on one Redis, as two Function App workers do.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { type AppProcess, startAppProcess } from '../support/appProcess.js';
import { call } from '../support/http.js';
import { admin } from '../support/redis.js';

const servers = inject('servers');
const port = servers.standalone.port;
let a: AppProcess;
let b: AppProcess;

beforeAll(async () => {
  await admin(port, (c) => c.flushAll());
  const env = {
    REDIS_URL: `redis://127.0.0.1:${port}`,
    REDIS_CLUSTER: 'false',
    AzureWebJobsStorage: servers.azurite.connectionString,
  };
  [a, b] = await Promise.all([startAppProcess(env), startAppProcess(env)]);
}, 60_000);

afterAll(async () => {
  await Promise.all([a.stop(), b.stop()]);
});

describe('SKU writes, deletes and listings racing on two instances', { timeout: 120_000 }, () => {
  it('never leaves an existing SKU out of the index: every SKU that exists is on a page', async () => {
    const rounds = 150;
    for (let i = 0; i < rounds; i += 10) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, j) => {
          const id = `race-${i + j}`;
          await call(a.url, 'PUT', `/skus/${id}`, { name: 'Racer', price: '1.00' });
          // A delete on one instance, a re-create on the other and a listing (which prunes) at once.
          await Promise.all([
            call(b.url, 'DELETE', `/skus/${id}`),
            call(a.url, 'PUT', `/skus/${id}`, { name: 'Racer', price: '2.00' }),
            call(b.url, 'GET', `/skus?limit=100`),
            call(a.url, 'DELETE', `/skus/${id}`),
            call(b.url, 'PUT', `/skus/${id}`, { name: 'Racer', price: '3.00' }),
          ]);
        }),
      );
    }
    const { existing, indexed } = await admin(port, async (c) => ({
      existing: (await c.keys('sku:race-*')).map((k) => k.slice('sku:'.length)).sort(),
      indexed: await c.zRange('skus', 0, -1),
    }));
    expect(existing.length).toBeGreaterThan(0);
    expect(existing.filter((id) => !indexed.includes(id))).toEqual([]);
    // And the listing shows exactly the SKUs that exist (it prunes the entries of deleted ones).
    const listed: string[] = [];
    for (let cursor: string | null = null; ;) {
      const q: string = cursor === null ? '' : `&cursor=${cursor}`;
      const page = await call(a.url, 'GET', `/skus?limit=100${q}`);
      listed.push(...(page.body.items as Array<{ id: string }>).map((s) => s.id));
      cursor = page.body.nextCursor as string | null;
      if (cursor === null) break;
    }
    expect(listed.sort()).toEqual(existing);
  });
});
