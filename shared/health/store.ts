import { RedisCluster } from 'redis';
import type { Redis } from '../redis/client.js';

/** Sends PING to every primary (one for a standalone server) and resolves when all have answered. */
export async function pingAll(redis: Redis): Promise<void> {
  if (redis instanceof RedisCluster) {
    const cluster = redis;
    await Promise.all(cluster.masters.map(async (node) => (await cluster.nodeClient(node)).ping()));
  } else {
    await redis.ping();
  }
}
