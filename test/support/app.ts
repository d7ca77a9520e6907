// Starts the app in the local runner against the standalone test Redis and Azurite, from a clean slate.
import { resolve } from 'node:path';

import { QueueServiceClient } from '@azure/storage-queue';

import { type Runner, startLocalRunner } from '../../local-runner/index.js';
import { admin } from './redis.js';
import type { TestServers } from './servers.js';

/** Flushes Redis, empties the loader queue, points the app at both (Redis through `redisPort` if given). */
export async function startApp(
  servers: TestServers,
  key: string,
  redisPort = servers.standalone.port,
): Promise<Runner> {
  await admin(servers.standalone.port, (c) => c.flushAll());
  const queue = QueueServiceClient.fromConnectionString(servers.azurite.connectionString).getQueueClient(
    'biglist-segments',
  );
  await queue.createIfNotExists();
  await queue.clearMessages();
  process.env.REDIS_URL = `redis://127.0.0.1:${redisPort}`;
  process.env.REDIS_CLUSTER = 'false';
  process.env.AzureWebJobsStorage = servers.azurite.connectionString;
  process.env.LOCAL_RUNNER_FUNCTION_KEY = key;
  return startLocalRunner({ root: resolve(import.meta.dirname, '..', '..'), port: 0, logLevel: 'critical' });
}
