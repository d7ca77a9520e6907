// The app in the local runner, talking to a Redis of its own through a fault proxy: what the fault tests
// start before each file.
import { join, resolve } from 'node:path';

import { type Runner, startLocalRunner } from '../../local-runner/index.js';
import { type FaultProxy, startFaultProxy } from './faultProxy.js';
import { freePort, type RedisProcess, startRedis } from './servers.js';

/** The runner, its Redis and the proxy between them. */
export interface AppBehindProxy {
  runner: Runner;
  redis: RedisProcess;
  proxy: FaultProxy;
  stop: () => Promise<void>;
}

/** Starts a redis-server (files under `workDir`), a fault proxy to it, and the app on the proxy. */
export async function startAppBehindProxy(workDir: string, deadlineMs: number): Promise<AppBehindProxy> {
  const port = await freePort();
  const redis = await startRedis(port, join(workDir, `behind-proxy-${port}`));
  const proxy = await startFaultProxy(port);
  process.env.REDIS_URL = `redis://127.0.0.1:${proxy.port}`;
  process.env.REDIS_CLUSTER = 'false';
  process.env.REDIS_DEADLINE_MS = String(deadlineMs);
  const runner = await startLocalRunner({
    root: resolve(import.meta.dirname, '..', '..'),
    port: 0,
    logLevel: 'critical',
  });
  return {
    runner,
    redis,
    proxy,
    stop: async () => {
      await runner.stop();
      await proxy.close();
      await redis.stop();
    },
  };
}
