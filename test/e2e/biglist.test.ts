// The biglist loader and reader end to end: HTTP through the local runner, queue messages through
// Azurite, data in a Redis of this file's own (so that it can be restarted mid-load).
import { join } from 'node:path';

import type { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import type { Runner } from '../../local-runner/index.js';
import { startApp } from '../support/app.js';
import { call as httpCall, until } from '../support/http.js';
import { admin } from '../support/redis.js';
import { emptyQueues, freePort, type RedisProcess, startRedis } from '../support/servers.js';

const servers = inject('servers');
const QUEUE = 'biglist-segments';
let runner: Runner;
let redis: RedisProcess;
let port: number;
let dir: string;
let queues: QueueServiceClient;

interface Status {
  state: string;
  count: number;
  loaded: number;
  segments: { total: number; done: number };
  startedAt: string | null;
  finishedAt: string | null;
  valuesPerSecond: number | null;
}

const call = (method: string, path: string, body?: unknown) => httpCall(runner.url, method, path, body);

async function waitFor(
  loadId: string,
  states = ['completed', 'failed'],
  timeoutMs = 120_000,
): Promise<Status> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = (await call('GET', `/biglist/loads/${loadId}`)).body as Status;
    if (states.includes(s.state)) return s;
    if (Date.now() > end) throw new Error(`load ${loadId} still ${s.state} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function load(body: unknown, timeoutMs = 120_000): Promise<{ loadId: string; status: Status }> {
  const res = await call('POST', '/biglist/loads', body);
  expect(res.status).toBe(202);
  const loadId = res.body.loadId as string;
  expect(res.headers.get('location')).toBe(`/api/biglist/loads/${loadId}`);
  return { loadId, status: await waitFor(loadId, ['completed', 'failed'], timeoutMs) };
}

/** Reads the whole list through the API in pages of 10,000 and returns the values. */
async function readAll(order: 'desc' | 'asc'): Promise<number[]> {
  const out: number[] = [];
  let cursor: string | null = null;
  do {
    const q: string = cursor ? `&cursor=${cursor}` : '';
    const page = await call('GET', `/biglist?limit=10000&order=${order}${q}`);
    expect(page.status).toBe(200);
    for (const v of page.body.values as number[]) out.push(v);
    cursor = page.body.nextCursor as string | null;
  } while (cursor);
  return out;
}

function expectSequence(values: number[], count: number, order: 'desc' | 'asc'): void {
  expect(values.length).toBe(count);
  // A loop with one assertion at the end: a million expect() calls would dominate the run time.
  let bad = -1;
  for (let i = 0; i < count; i++) {
    if (values[i] !== (order === 'desc' ? count - i : i + 1)) {
      bad = i;
      break;
    }
  }
  expect(bad).toBe(-1);
}

beforeAll(async () => {
  port = await freePort();
  dir = join(servers.workDir, `biglist-${port}`);
  // AOF, so that a restart mid-load keeps what was written, as a managed Redis does.
  redis = await startRedis(port, dir, ['--appendonly', 'yes', '--appendfsync', 'always']);
  queues = await emptyQueues(servers.azurite.connectionString, [QUEUE, `${QUEUE}-poison`]);
  runner = await startApp(servers, { redis: { port } });
});

afterAll(async () => {
  await runner.stop();
  await redis.stop();
});

/** Waits for a dead letter whose message text contains `needle`; returns it parsed. */
async function deadLetterWith(
  needle: string,
): Promise<{ reason: string; truncated: boolean; message: string } | undefined> {
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    const letters = (
      await queues.getQueueClient(`${QUEUE}-poison`).peekMessages({ numberOfMessages: 32 })
    ).peekedMessageItems.map(
      (m) =>
        JSON.parse(Buffer.from(m.messageText, 'base64').toString()) as {
          reason: string;
          truncated: boolean;
          message: string;
        },
    );
    const found = letters.find((l) => l.message.includes(needle));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

describe('biglist (standalone Redis, Azurite queue, local runner)', { timeout: 300_000 }, () => {
  it('loads the classic 10,000 values into the List `biglist`, newest first', async () => {
    const { loadId, status } = await load({});
    expect(status).toMatchObject({
      state: 'completed',
      count: 10_000,
      loaded: 10_000,
      segments: { total: 1, done: 1 },
    });
    expect(status.startedAt).not.toBeNull();
    expect(status.finishedAt).not.toBeNull();
    expect(status.valuesPerSecond).toBeGreaterThan(0);
    await admin(port, async (c) => {
      expect(await c.lRange('biglist', 0, 9)).toEqual([
        '10000',
        '9999',
        '9998',
        '9997',
        '9996',
        '9995',
        '9994',
        '9993',
        '9992',
        '9991',
      ]);
      expect(await c.lLen('biglist')).toBe(10_000);
      expect(await c.lIndex('biglist', -1)).toBe('1');
      expect(await c.type('biglist')).toBe('list');
    });
    // The list of the load's copies goes with the clean-up that follows the publish.
    await until('the load to leave no attempt behind', async () =>
      (await admin(port, (c) => c.keys(`*${loadId}*attempt*`))).length === 0 ? true : undefined,
    );
    const page = await call('GET', '/biglist?limit=10');
    expect(page.body).toEqual({
      values: [10000, 9999, 9998, 9997, 9996, 9995, 9994, 9993, 9992, 9991],
      nextCursor: expect.any(String),
    });
    const asc = await call('GET', '/biglist?limit=3&order=asc');
    expect(asc.body.values).toEqual([1, 2, 3]);
  });

  it('loads a million values in segments and reads them back exactly, in both orders; the old list is removed', async () => {
    const { loadId, status } = await load({ count: 1_000_000, segmentSize: 100_000 });
    expect(status).toMatchObject({
      state: 'completed',
      loaded: 1_000_000,
      segments: { total: 10, done: 10 },
    });
    expectSequence(await readAll('desc'), 1_000_000, 'desc');
    expectSequence(await readAll('asc'), 1_000_000, 'asc');
    await admin(port, async (c) => {
      // The newest segment is `biglist`; the nine older ones have keys of their own.
      expect(await c.lLen('biglist')).toBe(100_000);
      expect(await c.lIndex('biglist', 0)).toBe('1000000');
      expect((await c.keys(`biglist:{${loadId}:*}`)).length).toBe(9);
    });

    const next = await load({ count: 2500, segmentSize: 1000 });
    expect(next.status.state).toBe('completed');
    // The replaced list goes with the clean-up the publishing delivery runs after its publish: the load
    // reads as completed a moment before.
    await until('the replaced list to be removed', async () =>
      (await admin(port, (c) => c.keys(`biglist:{${loadId}:*}`))).length === 0 ? true : undefined,
    );
    expect(await admin(port, (c) => c.lRange('biglist', 0, 1))).toEqual(['2500', '2499']);
    expectSequence(await readAll('desc'), 2500, 'desc');
  });

  it('pages with stable cursors and rejects malformed ones and oversized limits', async () => {
    await load({ count: 2500, segmentSize: 1000 });
    const first = await call('GET', '/biglist?limit=1000');
    const second = await call('GET', `/biglist?limit=1000&cursor=${first.body.nextCursor as string}`);
    expect(second.body.values[0]).toBe(1500);
    const again = await call('GET', `/biglist?limit=1000&cursor=${first.body.nextCursor as string}`);
    expect(again.body).toEqual(second.body);
    const last = await call('GET', `/biglist?limit=1000&cursor=${second.body.nextCursor as string}`);
    expect(last.body.values).toHaveLength(500);
    expect(last.body.nextCursor).toBeNull();
    for (const bad of [
      'limit=10001',
      'limit=0',
      'cursor=***',
      `cursor=${Buffer.from('{"l":"x:y","p":1,"o":"desc"}').toString('base64url')}`,
      'order=up',
      'foo=1',
    ]) {
      const res = await call('GET', `/biglist?${bad}`);
      expect([bad, res.status]).toEqual([bad, 400]);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
    const asc = await call('GET', `/biglist?order=asc&cursor=${first.body.nextCursor as string}`);
    expect(asc.status).toBe(400);
  });

  it('refuses bad load requests and a second load while one runs', async () => {
    for (const body of [
      { count: 0 },
      { count: 1_000_000_001 },
      { count: 10, segmentSize: 999 },
      { count: 1.5 },
      { count: 10, extra: true },
    ]) {
      const res = await call('POST', '/biglist/loads', body);
      expect([body, res.status, res.body.code]).toEqual([body, 400, 'validation_failed']);
    }
    const first = await call('POST', '/biglist/loads', { count: 3_000_000, segmentSize: 100_000 });
    expect(first.status).toBe(202);
    const second = await call('POST', '/biglist/loads', { count: 10 });
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('load_in_progress');
    expect((await waitFor(first.body.loadId as string)).state).toBe('completed');
    expect((await call('GET', '/biglist/loads/nosuchload')).status).toBe(404);
  });

  it('completes exactly when Redis connections are killed and Redis restarts in the middle of a load', async () => {
    const res = await call('POST', '/biglist/loads', { count: 4_000_000, segmentSize: 100_000 });
    const loadId = res.body.loadId as string;
    await waitFor(loadId, ['running', 'completed', 'failed']);
    for (let i = 0; i < 3; i++) {
      await admin(port, (c) => c.clientKill({ filter: 'TYPE', type: 'normal' })).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 150));
    }
    await redis.stop();
    await new Promise((r) => setTimeout(r, 500));
    redis = await startRedis(port, dir, ['--appendonly', 'yes', '--appendfsync', 'always']);
    const status = await waitFor(loadId);
    expect(status).toMatchObject({
      state: 'completed',
      loaded: 4_000_000,
      segments: { total: 40, done: 40 },
    });
    expectSequence(await readAll('asc'), 4_000_000, 'asc');
    await admin(port, async (c) => {
      // Half-written copies of interrupted deliveries are never renamed into place (and expire).
      const attempts = await c.keys('*attempt*');
      for (const a of attempts) expect(await c.pTTL(a)).toBeGreaterThan(0);
    });
  });

  it.each([
    ['6,000 nested arrays', `${'['.repeat(6000)}${']'.repeat(6000)}`],
    ['9,000 numbers of 1e20', `[${Array.from({ length: 9000 }, () => '1e20').join(',')}]`],
  ])('dead-letters a message of %s at once, bounded and serialisable', async (_, text) => {
    await queues.getQueueClient(`${QUEUE}-poison`).clearMessages();
    const sent = Date.now();
    await queues.getQueueClient(QUEUE).sendMessage(Buffer.from(text).toString('base64'));
    const letter = await deadLetterWith(text.slice(0, 20));
    // At once: the first delivery dead-letters it; no retry (each would wait out a visibility timeout).
    expect(Date.now() - sent).toBeLessThan(10_000);
    expect(letter?.reason).toMatch(/^malformed/);
    expect(letter?.message.length).toBeLessThanOrEqual(16_384);
    expect(letter?.truncated).toBe(text.length > 16_384);
    expect((await queues.getQueueClient(QUEUE).getProperties()).approximateMessagesCount).toBe(0);
  });

  it('dead-letters a malformed message at once, without writes, and fails its load', async () => {
    const published = (await call('GET', '/biglist?limit=3')).body.values as number[];
    const res = await call('POST', '/biglist/loads', { count: 100_000_000, segmentSize: 1_000_000 });
    const loadId = res.body.loadId as string;
    // Drop the load's queued segments so that it cannot finish before the bad message arrives.
    await queues.getQueueClient(QUEUE).clearMessages();
    const bad = Buffer.from(JSON.stringify({ kind: 'segment', loadId, index: 'x' })).toString('base64');
    await queues.getQueueClient(QUEUE).sendMessage(bad);
    const status = await waitFor(loadId, ['failed']);
    expect(status.state).toBe('failed');
    const letter = await deadLetterWith('"index":"x"');
    expect(letter).toMatchObject({ truncated: false });
    expect(letter?.reason).toMatch(/^malformed: index:/);
    // The published list is untouched, and the loader is free again.
    expect((await call('GET', '/biglist?limit=3')).body.values).toEqual(published);
    const next = await load({ count: 1000, segmentSize: 1000 }, 300_000);
    expect(next.status.state).toBe('completed');
    // Deliveries still writing when the load failed clean up after themselves once they finish.
    let left: string[] = [];
    for (let i = 0; i < 100; i++) {
      left = await admin(port, (c) => c.keys(`*${loadId}*`));
      if (left.every((k) => k.includes(':load:') || k.includes(':attempt:'))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(left.filter((k) => !k.includes(':load:') && !k.includes(':attempt:'))).toEqual([]);
  });
});
