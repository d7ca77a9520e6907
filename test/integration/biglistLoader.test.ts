// The loader's exactly-once effect, driven directly (no queue), so deliveries can be made concurrent.
import { beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type * as Service from '../../shared/biglist/service.js';
import { admin } from '../support/redis.js';

const servers = inject('servers');
const port = servers.standalone.port;
let svc: typeof Service;
const logs: string[] = [];
const log = {
  log: (m: unknown) => logs.push(String(m)),
  warn: (m: unknown) => logs.push(String(m)),
  error: (m: unknown) => logs.push(String(m)),
};

beforeAll(async () => {
  vi.resetModules();
  process.env.REDIS_URL = `redis://127.0.0.1:${port}`;
  process.env.REDIS_CLUSTER = 'false';
  svc = await import('../../shared/biglist/service.js');
  await admin(port, (c) => c.flushAll());
});

describe('biglist loader service', () => {
  it('writes each value exactly once when every message is delivered twice at the same time, and again later', async () => {
    const load = await svc.startLoad({ count: 25_000, segmentSize: 10_000 });
    expect(load.messages).toHaveLength(3);
    await Promise.all(
      load.messages.flatMap((m) => [svc.processMessage(m, 1, log), svc.processMessage(m, 2, log)]),
    );
    await Promise.all(load.messages.map((m) => svc.processMessage(m, 3, log)));
    expect(logs.some((l) => /redelivery|another delivery/.test(l))).toBe(true);

    const status = await svc.getLoad(load.loadId);
    expect(status).toMatchObject({ state: 'completed', loaded: 25_000, segments: { total: 3, done: 3 } });
    const values: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await svc.readPage(10_000, 'desc', cursor);
      values.push(...page.values);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(values).toEqual(Array.from({ length: 25_000 }, (_, i) => 25_000 - i));
    await admin(port, async (c) => {
      expect(await c.lLen('biglist')).toBe(5_000);
      expect(await c.keys('*attempt*')).toEqual([]);
    });
  });

  it('dead-letters malformed or mismatched messages before any write, and fails the load', async () => {
    const load = await svc.startLoad({ count: 30_000, segmentSize: 10_000 });
    const dataKeys = async () => (await admin(port, (c) => c.keys('biglist*'))).sort();
    const before = await dataKeys();
    expect(await svc.processMessage('not json at all', 1, log)).toEqual({ enqueue: [], poison: true });
    expect(
      await svc.processMessage(
        { kind: 'segment', loadId: load.loadId, index: 0, start: 1, end: 999_999 },
        1,
        log,
      ),
    ).toEqual({ enqueue: [], poison: true });
    expect((await svc.getLoad(load.loadId)).state).toBe('failed');
    expect(await dataKeys()).toEqual(before);
    // A late delivery for the failed load is ignored, not written.
    expect(await svc.processMessage(load.messages[0], 1, log)).toEqual({ enqueue: [], poison: false });
    expect(
      (await admin(port, (c) => c.keys(`*${load.loadId}*`))).filter((k) => !k.includes(':load:')),
    ).toEqual([]);
  });

  it('fans large loads out in messages of at most 1000 segments', async () => {
    const load = await svc.startLoad({ count: 2_500_000, segmentSize: 1000 });
    expect(load.segments).toBe(2500);
    expect(load.messages).toEqual([
      { kind: 'fanout', loadId: load.loadId, from: 0, to: 999 },
      { kind: 'fanout', loadId: load.loadId, from: 1000, to: 1999 },
      { kind: 'fanout', loadId: load.loadId, from: 2000, to: 2499 },
    ]);
    const out = await svc.processMessage(load.messages[2], 1, log);
    expect(out.enqueue).toHaveLength(500);
    expect(out.enqueue.at(-1)).toEqual({
      kind: 'segment',
      loadId: load.loadId,
      index: 2499,
      start: 2_499_001,
      end: 2_500_000,
    });
  });
});
