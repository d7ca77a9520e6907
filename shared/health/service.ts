import { performance } from 'node:perf_hooks';

import { getConfig } from '../config.js';
import { getRedis } from '../redis/client.js';
import type { HealthReport } from './schema.js';
import { pingAll } from './store.js';

/** Pings Redis through the shared client; throws a connectivity error when it is unreachable. */
export async function checkHealth(): Promise<HealthReport> {
  const cfg = getConfig().redis;
  const redis = await getRedis();
  const started = performance.now();
  await pingAll(redis);
  const latencyMs = Math.round((performance.now() - started) * 100) / 100;
  return {
    status: 'ok',
    redis: { mode: cfg.cluster ? 'cluster' : 'standalone', tls: cfg.tls, auth: cfg.auth.mode, latencyMs },
  };
}
