// The app in the local runner, talking to a Redis of its own through a fault proxy: what the fault tests
// start before each file.
import { join } from 'node:path';

import type { Runner } from '../../local-runner/index.js';
import { startApp } from './app.js';
import { type FaultProxy, startFaultProxy } from './faultProxy.js';
import { freePort, type RedisProcess, startRedis, type TestServers } from './servers.js';

/** The runner, its Redis and the proxy between them. */
export interface AppBehindProxy {
  runner: Runner;
  redis: RedisProcess;
  proxy: FaultProxy;
  stop: () => Promise<void>;
}

/** Starts a redis-server (files under the servers' work folder), a fault proxy to it, and the app on the proxy. */
export async function startAppBehindProxy(
  servers: TestServers,
  deadlineMs: number,
  env: Record<string, string> = {},
): Promise<AppBehindProxy> {
  const port = await freePort();
  const redis = await startRedis(port, join(servers.workDir, `behind-proxy-${port}`));
  const proxy = await startFaultProxy(port);
  const runner = await startApp(servers, {
    redis: { port: proxy.port },
    env: { REDIS_DEADLINE_MS: String(deadlineMs), ...env },
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
