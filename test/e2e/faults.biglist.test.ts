// Faults of the biglist loader end to end through the local runner: Redis down longer than the queue's
// retries, lost queue messages, a queue that cannot take messages, and cancellation. Queue retries and
// the stall time are shortened so that each fault plays out in seconds rather than minutes.
import { createHash } from 'node:crypto';
import { join } from 'node:path';

import type { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import type { Runner } from '../../local-runner/index.js';
import { planLoad } from '../../shared/biglist/plan.js';
import { claimLoad } from '../../shared/biglist/store.js';
import type { Redis } from '../../shared/redis/connect.js';
import { startApp } from '../support/app.js';
import { type FaultProxy, startFaultProxy } from '../support/faultProxy.js';
import { call, until } from '../support/http.js';
import { admin } from '../support/redis.js';
import {
  azuriteConnectionString,
  emptyQueues,
  freePort,
  type RedisProcess,
  startRedis,
} from '../support/servers.js';

const servers = inject('servers');
const QUEUE = 'biglist-segments';
const STALL_S = 3;
let runner: Runner;
let redis: RedisProcess;
let port: number;
let dir: string;
let storage: FaultProxy;
let queues: QueueServiceClient;

const api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  call(runner.url, method, path, body, headers);

const restartRedis = async () => {
  redis = await startRedis(port, dir, ['--appendonly', 'yes', '--appendfsync', 'always']);
};

async function settle(loadId: string, timeoutMs = 60_000): Promise<{ state: string; error?: string }> {
  return until(
    `load ${loadId} to end`,
    async () => {
      const s = (await api('GET', `/biglist/loads/${loadId}`)).body as { state: string; error?: string };
      return ['completed', 'failed', 'cancelled'].includes(s.state) ? s : undefined;
    },
    timeoutMs,
  );
}

async function dataKeys(loadId: string): Promise<string[]> {
  const all = await admin(port, (c) => c.keys(`*${loadId}*`));
  return all.filter((k) => !k.includes(':load:'));
}

async function expectNewLoadCompletes(): Promise<void> {
  const res = await api('POST', '/biglist/loads', { count: 20_000, segmentSize: 10_000 });
  expect(res.status).toBe(202);
  expect((await settle(res.body.loadId as string)).state).toBe('completed');
}

beforeAll(async () => {
  port = await freePort();
  dir = join(servers.workDir, `biglist-faults-${port}`);
  // AOF, so that a load's state survives the restart, as it does on a managed Redis.
  await restartRedis();
  storage = await startFaultProxy(servers.azurite.queuePort);
  queues = await emptyQueues(servers.azurite.connectionString, [QUEUE, `${QUEUE}-poison`]);
  runner = await startApp(servers, {
    redis: { port },
    storage: azuriteConnectionString(servers.azurite.blobPort, storage.port),
    env: { BIGLIST_STALL_SECONDS: String(STALL_S) },
    runner: { queues: { visibilityTimeoutMs: 100, maxPollingIntervalMs: 200 } },
  });
});

afterAll(async () => {
  await runner.stop();
  await storage.close();
  await redis.stop();
});

describe('a load always ends', { timeout: 120_000 }, () => {
  it('ends a load whose deliveries ran out of retries while Redis was down, removes its data, and accepts the next', async () => {
    const res = await api('POST', '/biglist/loads', { count: 4_000_000, segmentSize: 100_000 });
    const loadId = res.body.loadId as string;
    await until('some progress', async () => {
      const s = (await api('GET', `/biglist/loads/${loadId}`)).body;
      return s.segments?.done > 0 ? true : undefined;
    });
    await redis.stop();
    // Every remaining message fails all its deliveries and goes to poison; marking the load failed on the
    // last delivery fails too, since Redis is down.
    await until(
      'the queue to drain into poison',
      async () => {
        const props = await queues.getQueueClient(QUEUE).getProperties();
        return props.approximateMessagesCount === 0 ? true : undefined;
      },
      60_000,
    );
    await new Promise((r) => setTimeout(r, 1000));
    await restartRedis();
    const ended = await settle(loadId, (STALL_S + 20) * 1000);
    expect(ended.state).toBe('failed');
    await until('its data to go', async () => ((await dataKeys(loadId)).length === 0 ? true : undefined));
    await expectNewLoadCompletes();
  });

  it('ends a load whose messages were lost, and accepts the next', async () => {
    const res = await api('POST', '/biglist/loads', { count: 50_000_000, segmentSize: 1_000_000 });
    const loadId = res.body.loadId as string;
    await queues.getQueueClient(QUEUE).clearMessages();
    expect((await api('POST', '/biglist/loads', { count: 10 })).status).toBe(409);
    const ended = await settle(loadId, (STALL_S + 20) * 1000);
    expect(ended).toMatchObject({ state: 'failed', error: `no progress for ${STALL_S} s` });
    await until('its data to go', async () => ((await dataKeys(loadId)).length === 0 ? true : undefined));
    await expectNewLoadCompletes();
  });

  it('cancels a load in progress on DELETE: nothing more is written, its data goes, the published list stays', async () => {
    const published = (await api('GET', '/biglist?limit=3')).body.values as number[];
    const res = await api('POST', '/biglist/loads', { count: 50_000_000, segmentSize: 1_000_000 });
    const loadId = res.body.loadId as string;
    const cancelled = await api('DELETE', `/biglist/loads/${loadId}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ loadId, state: 'cancelled' });
    expect((await api('DELETE', `/biglist/loads/${loadId}`)).status).toBe(200);
    await until('its data to go', async () => {
      const depth = (await queues.getQueueClient(QUEUE).getProperties()).approximateMessagesCount;
      return depth === 0 && (await dataKeys(loadId)).length === 0 ? true : undefined;
    });
    expect((await api('GET', '/biglist?limit=3')).body.values).toEqual(published);
    expect((await api('GET', `/biglist/loads/${loadId}`)).body.state).toBe('cancelled');
    expect((await api('DELETE', '/biglist/loads/nosuchload')).status).toBe(404);
    const done = await api('POST', '/biglist/loads', { count: 1000, segmentSize: 1000 });
    await settle(done.body.loadId as string);
    const refused = await api('DELETE', `/biglist/loads/${done.body.loadId as string}`);
    expect([refused.status, refused.body.code]).toEqual([409, 'load_finished']);
  });
});

describe('idempotency records only what happened', { timeout: 120_000 }, () => {
  it('answers 503 within the deadline when the queue cannot take the messages, claims nothing, and the retry starts the load', async () => {
    const key = 'load-when-storage-stalls';
    storage.stall();
    let failed;
    try {
      failed = await api(
        'POST',
        '/biglist/loads',
        { count: 20_000, segmentSize: 10_000 },
        { 'Idempotency-Key': key },
      );
    } finally {
      storage.pass();
    }
    expect([failed.status, failed.body.code]).toEqual([503, 'queue_unavailable']);
    expect(failed.headers.get('retry-after')).toBe('5');
    expect(failed.headers.get('content-type')).toBe('application/problem+json');
    expect(failed.ms).toBeLessThan(2000 + 1500);
    await admin(port, async (c) => {
      expect(await c.get('{biglist}:active')).toBeNull();
      // The key that started the load is forgotten with it: the load never ran.
      expect(await c.keys('{biglist}:idem:*')).toEqual([]);
    });
    const retried = await api(
      'POST',
      '/biglist/loads',
      { count: 20_000, segmentSize: 10_000 },
      { 'Idempotency-Key': key },
    );
    expect(retried.status).toBe(202);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect((await settle(retried.body.loadId as string)).state).toBe('completed');
    const replay = await api(
      'POST',
      '/biglist/loads',
      { count: 20_000, segmentSize: 10_000 },
      { 'Idempotency-Key': key },
    );
    expect([replay.status, replay.headers.get('idempotent-replayed'), replay.body.loadId]).toEqual([
      202,
      'true',
      retried.body.loadId,
    ]);
  });

  it('sends the messages again when a retried key finds its load still queued (the first request died after the claim)', async () => {
    const body = { count: 20_000, segmentSize: 10_000 };
    const key = 'died-after-claim';
    // What the first request did before it died: the claim and its key, in one script; no message sent.
    const load = planLoad('dead00c1a1e0', body.count, body.segmentSize);
    const fingerprint = createHash('sha256')
      .update('POST loads\n')
      .update(JSON.stringify(body))
      .digest('hex');
    // The test's plain client stands in for the app's (the store only sends commands and scripts).
    const claim = await admin(port, (c) =>
      claimLoad(c as unknown as Redis, load, Date.now(), STALL_S * 60_000, { key, fingerprint }),
    );
    expect(claim.status).toBe('ok');
    const retried = await api('POST', '/biglist/loads', body, { 'Idempotency-Key': key });
    expect([retried.status, retried.body.loadId, retried.headers.get('idempotent-replayed')]).toEqual([
      202,
      load.loadId,
      'true',
    ]);
    expect((await settle(load.loadId)).state).toBe('completed');
    expect(await admin(port, (c) => c.lLen('biglist'))).toBe(10_000);
  });

  it('answers 503 at once when storage refuses connections', async () => {
    await storage.refuse();
    // Pooled keep-alive connections would still get through.
    storage.cut();
    try {
      const res = await api('POST', '/biglist/loads', { count: 10 });
      expect([res.status, res.body.code]).toEqual([503, 'queue_unavailable']);
    } finally {
      await storage.accept();
    }
    expect(await admin(port, (c) => c.get('{biglist}:active'))).toBeNull();
  });
});
