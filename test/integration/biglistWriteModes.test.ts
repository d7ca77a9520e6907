// How the loader writes segments: RESTORE of a serialized list where the server takes it, pipelined LPUSH
// otherwise, chosen by BIGLIST_WRITE_MODE; against a real Redis, with an ACL user that lacks RESTORE.
import { QueueServiceClient } from '@azure/storage-queue';
import { beforeAll, describe, expect, inject, it } from 'vitest';

import type * as Loader from '../../shared/biglist/loader.js';
import { BIGLIST_QUEUE } from '../../shared/biglist/schema.js';
import type * as Service from '../../shared/biglist/service.js';
import { freshModules } from '../support/fresh.js';
import { admin } from '../support/redis.js';

const servers = inject('servers');
const port = servers.standalone.port;

/** The loader service with fresh module state (settings, client, RESTORE verdict) under `env`. */
async function loader(
  env: Record<string, string>,
): Promise<{ svc: typeof Service & typeof Loader; logs: string[] }> {
  freshModules({ REDIS_URL: `redis://127.0.0.1:${port}`, ...env });
  const { closeRedis } = await import('../../shared/redis/client.js');
  await closeRedis();
  const logs: string[] = [];
  const svc = {
    ...(await import('../../shared/biglist/service.js')),
    ...(await import('../../shared/biglist/loader.js')),
  };
  return { svc, logs };
}

async function runLoad(
  svc: typeof Service & typeof Loader,
  logs: string[],
  count: number,
  segmentSize: number,
): Promise<{ loadId: string; errors: unknown[] }> {
  const log = {
    log: (m: unknown) => logs.push(String(m)),
    warn: (m: unknown) => logs.push(String(m)),
    error: (m: unknown) => logs.push(String(m)),
  };
  const load = await svc.startLoad({ count, segmentSize });
  const errors: unknown[] = [];
  for (const m of load.messages) {
    await svc.processMessage(m, { dequeueCount: 1 }, log).catch((e: unknown) => errors.push(e));
  }
  return { loadId: load.loadId, errors };
}

beforeAll(async () => {
  process.env.AzureWebJobsStorage = servers.azurite.connectionString;
  await QueueServiceClient.fromConnectionString(servers.azurite.connectionString)
    .getQueueClient(BIGLIST_QUEUE)
    .createIfNotExists();
  await admin(port, async (c) => {
    await c.flushAll();
    await c.aclSetUser('norestore', ['on', '>no-restore-pw', '~*', '&*', '+@all', '-restore']);
  });
});

describe('biglist write modes', () => {
  it('auto: verifies RESTORE on the server, then writes large segments with it and small ones with LPUSH', async () => {
    const { svc, logs } = await loader({});
    const big = await runLoad(svc, logs, 120_000, 60_000);
    expect(big.errors).toEqual([]);
    expect(await svc.getLoad(big.loadId)).toMatchObject({
      state: 'completed',
      writePath: { restore: 2, lpush: 0 },
    });
    expect(logs.some((l) => l.includes('RESTORE verified'))).toBe(true);
    const page = await svc.readPage(5, 'asc');
    expect(page.values).toEqual([1, 2, 3, 4, 5]);
    expect(await admin(port, (c) => c.lRange('biglist', 0, 2))).toEqual(['120000', '119999', '119998']);
    // The classic load keeps the seed's LPUSH.
    const classic = await runLoad(svc, logs, 10_000, 1_000_000);
    expect(await svc.getLoad(classic.loadId)).toMatchObject({
      state: 'completed',
      writePath: { restore: 0, lpush: 1 },
    });
  });

  it('auto: falls back to LPUSH for the life of the worker when the server refuses RESTORE', async () => {
    const { svc, logs } = await loader({
      REDIS_AUTH: 'password',
      REDIS_USERNAME: 'norestore',
      REDIS_PASSWORD: 'no-restore-pw',
    });
    const load = await runLoad(svc, logs, 120_000, 60_000);
    expect(load.errors).toEqual([]);
    expect(await svc.getLoad(load.loadId)).toMatchObject({
      state: 'completed',
      writePath: { restore: 0, lpush: 2 },
    });
    expect(logs.filter((l) => l.includes('falling back to LPUSH'))).toHaveLength(1);
    expect(logs.find((l) => l.includes('falling back'))).toMatch(/NOPERM|no permissions/i);
    expect((await svc.readPage(3, 'desc')).values).toEqual([120_000, 119_999, 119_998]);
  });

  it('restore: fails the segment instead of falling back when the server refuses', async () => {
    const { svc, logs } = await loader({
      BIGLIST_WRITE_MODE: 'restore',
      REDIS_AUTH: 'password',
      REDIS_USERNAME: 'norestore',
      REDIS_PASSWORD: 'no-restore-pw',
    });
    const load = await runLoad(svc, logs, 120_000, 60_000);
    expect(load.errors).toHaveLength(2);
    expect(String(load.errors[0])).toMatch(/NOPERM|no permissions/i);
    expect((await svc.getLoad(load.loadId)).state).not.toBe('completed');
    await svc.cancelLoad(load.loadId);
  });

  it('lpush: writes every segment with LPUSH', async () => {
    const { svc, logs } = await loader({ BIGLIST_WRITE_MODE: 'lpush' });
    const load = await runLoad(svc, logs, 120_000, 60_000);
    expect(await svc.getLoad(load.loadId)).toMatchObject({
      state: 'completed',
      writePath: { restore: 0, lpush: 2 },
    });
    expect((await svc.readPage(2, 'asc')).values).toEqual([1, 2]);
  });
});
