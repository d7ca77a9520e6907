// The loader's exactly-once effect, driven directly (no queue), so deliveries can be made concurrent.
import { QueueServiceClient } from '@azure/storage-queue';
import { beforeAll, describe, expect, inject, it } from 'vitest';

import type * as Loader from '../../shared/biglist/loader.js';
import { BIGLIST_QUEUE } from '../../shared/biglist/schema.js';
import type * as Service from '../../shared/biglist/service.js';
import { freshModules } from '../support/fresh.js';
import { admin } from '../support/redis.js';

const servers = inject('servers');
const port = servers.standalone.port;
let svc: typeof Service & typeof Loader;
const logs: string[] = [];
const log = {
  log: (m: unknown) => logs.push(String(m)),
  warn: (m: unknown) => logs.push(String(m)),
  error: (m: unknown) => logs.push(String(m)),
};

beforeAll(async () => {
  freshModules({
    REDIS_URL: `redis://127.0.0.1:${port}`,
    REDIS_CLUSTER: 'false',
    BIGLIST_STALL_SECONDS: '2',
    // startLoad sends each load's messages; these tests hand them to processMessage themselves.
    AzureWebJobsStorage: servers.azurite.connectionString,
  });
  await QueueServiceClient.fromConnectionString(servers.azurite.connectionString)
    .getQueueClient(BIGLIST_QUEUE)
    .createIfNotExists();
  svc = {
    ...(await import('../../shared/biglist/service.js')),
    ...(await import('../../shared/biglist/loader.js')),
  };
  await admin(port, (c) => c.flushAll());
});

describe('biglist loader service', () => {
  it('writes each value exactly once when every message is delivered twice at the same time, and again later', async () => {
    const load = await svc.startLoad({ count: 25_000, segmentSize: 10_000 });
    expect(load.messages).toHaveLength(3);
    await Promise.all(
      load.messages.flatMap((m) => [
        svc.processMessage(m, { dequeueCount: 1 }, log),
        svc.processMessage(m, { dequeueCount: 2 }, log),
      ]),
    );
    await Promise.all(load.messages.map((m) => svc.processMessage(m, { dequeueCount: 3 }, log)));
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
    expect(await svc.processMessage('not json at all', { dequeueCount: 1 }, log)).toMatchObject({
      enqueue: [],
      poison: true,
    });
    expect(
      await svc.processMessage(
        { kind: 'segment', loadId: load.loadId, index: 0, start: 1, end: 999_999 },
        { dequeueCount: 1 },
        log,
      ),
    ).toMatchObject({ enqueue: [], poison: true });
    expect((await svc.getLoad(load.loadId)).state).toBe('failed');
    expect(await dataKeys()).toEqual(before);
    // A late delivery for the failed load is ignored, not written.
    expect(await svc.processMessage(load.messages[0], { dequeueCount: 1 }, log)).toEqual({
      enqueue: [],
      poison: false,
    });
    expect(
      (await admin(port, (c) => c.keys(`*${load.loadId}*`))).filter((k) => !k.includes(':load:')),
    ).toEqual([]);
  });

  it('removes what a crashed delivery left half-written as soon as the segment is handled again', async () => {
    const load = await svc.startLoad({ count: 20_000, segmentSize: 10_000 });
    const [first] = load.messages;
    // Delivery 1 of message "msg-a" wrote 5 values and died; its copy would otherwise wait 15 minutes.
    const crashed = `biglist:{${load.loadId}:0}:attempt:msg-a-1`;
    await admin(port, async (c) => {
      await c.lPush(crashed, ['1', '2', '3', '4', '5']);
      await c.pExpire(crashed, 900_000);
    });
    await svc.processMessage(first, { dequeueCount: 2, messageId: 'msg-a' }, log);
    await svc.processMessage(load.messages[1], { dequeueCount: 1, messageId: 'msg-b' }, log);
    expect((await svc.getLoad(load.loadId)).state).toBe('completed');
    expect(await admin(port, (c) => c.keys('*attempt*'))).toEqual([]);
  });

  it('lists the copies of a load in progress in a set that expires like them, so none outlives a cut-off clean-up', async () => {
    const load = await svc.startLoad({ count: 20_000, segmentSize: 10_000 });
    await svc.processMessage(load.messages[0], { dequeueCount: 1, messageId: 'msg-t' }, log);
    const ttl = await admin(port, (c) => c.pTTL(`{biglist}:load:${load.loadId}:attempts`));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(15 * 60_000);
    await svc.processMessage(load.messages[1], { dequeueCount: 1, messageId: 'msg-u' }, log);
    expect((await svc.getLoad(load.loadId)).state).toBe('completed');
  });

  it('never commits a copy that lost values, whatever removed them', async () => {
    const store = await import('../../shared/biglist/segmentStore.js');
    await admin(port, async (c) => {
      await c.lPush('partial:attempt', ['3', '2', '1']);
      const result = await store.commitAttempt(c as never, 'partial:attempt', 'partial:final', 10);
      expect(result).toBe('incomplete');
      expect(await c.exists(['partial:attempt', 'partial:final'])).toBe(0);
    });
  });

  it('cancels a load in progress: no further segment is written, its data goes, the published list stays', async () => {
    const published = (await svc.readPage(3, 'desc')).values;
    const load = await svc.startLoad({ count: 30_000, segmentSize: 10_000 });
    await svc.processMessage(load.messages[0], { dequeueCount: 1 }, log);
    const cancelled = await svc.cancelLoad(load.loadId);
    expect(cancelled).toMatchObject({ state: 'cancelled', error: 'cancelled' });
    expect((await svc.cancelLoad(load.loadId)).state).toBe('cancelled');
    for (const m of load.messages.slice(1)) await svc.processMessage(m, { dequeueCount: 1 }, log);
    expect(
      (await admin(port, (c) => c.keys(`*${load.loadId}*`))).filter((k) => !k.includes(':load:')),
    ).toEqual([]);
    expect((await svc.readPage(3, 'desc')).values).toEqual(published);
    await expect(svc.cancelLoad('nosuchload')).rejects.toMatchObject({ status: 404 });
    const next = await svc.startLoad({ count: 1000, segmentSize: 1000 });
    await svc.processMessage(next.messages[0], { dequeueCount: 1 }, log);
    await expect(svc.cancelLoad(next.loadId)).rejects.toMatchObject({ status: 409, code: 'load_finished' });
  });

  it('fails a load that makes no progress for the stall time, frees the loader and removes its data', async () => {
    const load = await svc.startLoad({ count: 30_000, segmentSize: 10_000 });
    await svc.processMessage(load.messages[0], { dequeueCount: 1 }, log);
    await expect(svc.startLoad({ count: 10 })).rejects.toMatchObject({ status: 409 });
    // The two other messages are lost: nothing will ever finish this load.
    await new Promise((r) => setTimeout(r, 2300));
    expect(await svc.getLoad(load.loadId)).toMatchObject({ state: 'failed', error: 'no progress for 2 s' });
    expect(
      (await admin(port, (c) => c.keys(`*${load.loadId}*`))).filter((k) => !k.includes(':load:')),
    ).toEqual([]);
    const next = await svc.startLoad({ count: 10 });
    await svc.cancelLoad(next.loadId);
  });

  it('exports the published list in both orders, and cuts the export off if the list is replaced meanwhile', async () => {
    const load = await svc.startLoad({ count: 250_000, segmentSize: 100_000 });
    for (const m of load.messages) await svc.processMessage(m, { dequeueCount: 1 }, log);
    const text = async (order: 'desc' | 'asc') => {
      const { lines } = await svc.exportList(order);
      const parts: Buffer[] = [];
      for await (const chunk of lines) parts.push(chunk);
      return Buffer.concat(parts).toString();
    };
    const desc = (await text('desc')).split('\n');
    expect(desc.length).toBe(250_001);
    expect(desc.slice(0, 3)).toEqual(['250000', '249999', '249998']);
    expect(desc.at(-2)).toBe('1');
    expect(desc.every((v, i) => i === 250_000 || Number(v) === 250_000 - i)).toBe(true);
    const asc = (await text('asc')).split('\n');
    expect(asc.every((v, i) => i === 250_000 || Number(v) === i + 1)).toBe(true);

    // Oldest first, the newest segment (`biglist` itself) comes last: a replacement meanwhile must not
    // be mixed in.
    const { lines } = await svc.exportList('asc');
    const first = await lines.next();
    const firstText = first.done ? '' : first.value.toString();
    expect(firstText.startsWith('1\n2\n3\n')).toBe(true);
    const next = await svc.startLoad({ count: 1000, segmentSize: 1000 });
    await svc.processMessage(next.messages[0], { dequeueCount: 1 }, log);
    const rest: Buffer[] = [];
    const drained = (async () => {
      for await (const chunk of lines) rest.push(chunk);
    })();
    await expect(drained).rejects.toBeInstanceOf(svc.ExportAbortedError);
    // What did arrive before the cut is the old list, contiguous: never values of the new one.
    const before = firstText.trim().split('\n').length;
    const got = Buffer.concat(rest).toString().split('\n').filter(Boolean).map(Number);
    expect(got.every((v, i) => v === before + 1 + i)).toBe(true);
    expect(before + got.length).toBeLessThan(250_000);
  });

  it('fans large loads out in messages of at most 1000 segments', async () => {
    const load = await svc.startLoad({ count: 2_500_000, segmentSize: 1000 });
    expect(load.segments).toBe(2500);
    expect(load.messages).toEqual([
      { kind: 'fanout', loadId: load.loadId, from: 0, to: 999 },
      { kind: 'fanout', loadId: load.loadId, from: 1000, to: 1999 },
      { kind: 'fanout', loadId: load.loadId, from: 2000, to: 2499 },
    ]);
    const out = await svc.processMessage(load.messages[2], { dequeueCount: 1 }, log);
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
