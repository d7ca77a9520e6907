import { join } from 'node:path';

import type { HttpHandler, HttpResponseInit } from '@azure/functions';
import { afterAll, beforeEach, describe, expect, inject, it, vi } from 'vitest';

import { testContext, testRequest } from '../support/context.js';
import { freshModules } from '../support/fresh.js';
import { freePort, type RedisProcess, startRedis } from '../support/servers.js';

const servers = inject('servers');

/** Loads the health function with fresh module state (config and shared client) under the given env. */
async function loadHealth(
  env: Record<string, string>,
): Promise<{ getHealth: HttpHandler; close: () => Promise<void> }> {
  freshModules(env);
  const { getHealth } = await import('../../functions/health.js');
  const { closeRedis } = await import('../../shared/redis/client.js');
  return { getHealth, close: closeRedis };
}

async function call(
  handler: HttpHandler,
): Promise<{ res: HttpResponseInit; ms: number; body: Record<string, unknown> }> {
  const started = Date.now();
  const res = (await handler(
    testRequest('GET', '/api/health'),
    testContext('getHealth'),
  )) as HttpResponseInit;
  const ms = Date.now() - started;
  const body = JSON.parse(res.body as string) as Record<string, unknown>;
  return { res, ms, body };
}

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers) await c();
});

describe('getHealth', () => {
  beforeEach(() => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  });

  it('reports a standalone plain-text connection with its latency', async () => {
    const { getHealth, close } = await loadHealth({
      REDIS_URL: `redis://127.0.0.1:${servers.standalone.port}`,
    });
    closers.push(close);
    const { res, body } = await call(getHealth);
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', redis: { mode: 'standalone', tls: false, auth: 'none' } });
    expect(typeof (body.redis as { latencyMs: unknown }).latencyMs).toBe('number');
  });

  it('reports a TLS cluster and pings every primary', async () => {
    const { getHealth, close } = await loadHealth({
      REDIS_URL: `rediss://localhost:${servers.cluster.tlsPorts[0]}`,
      REDIS_CLUSTER: 'true',
      REDIS_TLS_CA_FILE: servers.cluster.caFile,
    });
    closers.push(close);
    const { res, body } = await call(getHealth);
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ redis: { mode: 'cluster', tls: true, auth: 'none' } });
  });

  it('answers 503 with Retry-After quickly when Redis was never reachable (cold start)', async () => {
    const { getHealth, close } = await loadHealth({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    closers.push(close);
    const { res, ms, body } = await call(getHealth);
    expect(res.status).toBe(503);
    expect(res.headers).toMatchObject({ 'Content-Type': 'application/problem+json', 'Retry-After': '5' });
    expect(body).toMatchObject({ status: 503, code: 'redis_unavailable' });
    expect(ms).toBeLessThan(2000);
  });

  it('answers 503 within 2 s while Redis is down, and 200 again once it is back, without a restart', async () => {
    const port = await freePort();
    const dir = join(servers.workDir, `health-${port}`);
    let redis: RedisProcess = await startRedis(port, dir);
    const { getHealth, close } = await loadHealth({ REDIS_URL: `redis://127.0.0.1:${port}` });
    closers.push(async () => {
      await close();
      await redis.stop();
    });
    expect((await call(getHealth)).res.status).toBe(200);

    await redis.stop();
    for (let i = 0; i < 3; i++) {
      const { res, ms } = await call(getHealth);
      expect(res.status).toBe(503);
      expect(res.headers).toMatchObject({ 'Retry-After': '5' });
      expect(ms).toBeLessThan(2000);
    }

    redis = await startRedis(port, dir);
    let status = 0;
    const until = Date.now() + 10_000;
    while (status !== 200 && Date.now() < until) {
      status = Number((await call(getHealth)).res.status);
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
  });
});
