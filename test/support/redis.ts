import { createClient } from 'redis';
import { afterAll, beforeAll, beforeEach } from 'vitest';

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

/** A client on 127.0.0.1:port for a file that calls scripts directly: connected for the file, the database emptied before each test. */
export function scriptTestClient(port: number): AdminClient {
  const client = plainClient(port);
  beforeAll(async () => {
    await client.connect();
  });
  afterAll(() => {
    client.destroy();
  });
  beforeEach(async () => {
    await client.flushAll();
  });
  return client;
}
