// The loader on a Redis Cluster: segments spread over the shards and read back exactly.

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import type { Runner } from '../../local-runner/index.js';
import { startApp } from '../support/app.js';
import { admin } from '../support/redis.js';

const servers = inject('servers');
let runner: Runner;

async function get(path: string): Promise<any> {
  return (await fetch(`${runner.url}/api${path}`)).json();
}

beforeAll(async () => {
  runner = await startApp(servers, { redis: 'cluster' });
});

afterAll(async () => {
  await runner.stop();
});

describe('biglist (Redis Cluster)', { timeout: 120_000 }, () => {
  it('spreads segments over at least two shards and publishes atomically beside `biglist`', async () => {
    const res = await fetch(`${runner.url}/api/biglist/loads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ count: 60_000, segmentSize: 1000 }),
    });
    const { loadId } = (await res.json()) as { loadId: string };
    let state = '';
    for (let i = 0; i < 600 && state !== 'completed' && state !== 'failed'; i++) {
      state = ((await get(`/biglist/loads/${loadId}`)) as { state: string }).state;
      if (state !== 'completed') await new Promise((r) => setTimeout(r, 200));
    }
    expect(state).toBe('completed');
    const perShard = await Promise.all(
      servers.cluster.ports.map((p) => admin(p, (c) => c.keys(`biglist:{${loadId}:*}`))),
    );
    expect(perShard.flat()).toHaveLength(59);
    expect(perShard.filter((k) => k.length > 0).length).toBeGreaterThanOrEqual(2);

    const values: number[] = [];
    let cursor: string | null = null;
    do {
      const page = (await get(`/biglist?limit=7000&order=asc${cursor ? `&cursor=${cursor}` : ''}`)) as {
        values: number[];
        nextCursor: string | null;
      };
      values.push(...page.values);
      cursor = page.nextCursor;
    } while (cursor);
    expect(values).toEqual(Array.from({ length: 60_000 }, (_, i) => i + 1));
    const newest = (await get('/biglist?limit=10')) as { values: number[] };
    expect(newest.values).toEqual(Array.from({ length: 10 }, (_, i) => 60_000 - i));
  });
});
