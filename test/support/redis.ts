import { createClient } from 'redis';

import { parseConfig, type RedisConfig } from '../../shared/config.js';

/** A RedisConfig for tests, from the same settings the app reads. */
export function redisConfig(env: Record<string, string>): RedisConfig {
  return parseConfig(env).redis;
}

const plainClient = (port: number) =>
  createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false } });
/** The tests' own plain client, independent of the code under test. */
export type AdminClient = ReturnType<typeof plainClient>;

/** Runs commands against 127.0.0.1:port with a throwaway plain client (the test's own view of Redis). */
export async function admin<T>(port: number, fn: (c: AdminClient) => Promise<T>): Promise<T> {
  const c = plainClient(port);
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    c.destroy();
  }
}
