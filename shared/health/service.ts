import { performance } from 'node:perf_hooks';
import { getConfig } from '../config.js';
import { getRedis } from '../redis/client.js';
import { pingAll } from './store.js';

/** What the health endpoint reports about the Redis connection. */
export interface HealthReport {
  status: 'ok';
  redis: {
    mode: 'standalone' | 'cluster';
    tls: boolean;
    auth: 'none' | 'password' | 'entra';
    latencyMs: number;
  };
}

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
