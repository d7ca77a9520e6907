// The biglist's Lua called directly against a real Redis: each reply is one of the typed outcomes its
// caller switches on, and each step is safe to repeat.
import { describe, expect, inject, it } from 'vitest';

import { BIGLIST_COMMIT, BIGLIST_DONE, BIGLIST_END, BIGLIST_START } from '../../shared/biglist/scripts.js';
import { runScript } from '../../shared/redis/scripts.js';
import { scriptTestClient } from '../support/redis.js';

const servers = inject('servers');
const client = scriptTestClient(servers.standalone.port);
const K = {
  load: '{biglist}:load:L1',
  done: '{biglist}:done:L1',
  staged: '{biglist}:staged:L1',
  biglist: 'biglist',
  current: '{biglist}:current',
  active: '{biglist}:active',
  cleanup: '{biglist}:cleanup',
};
const LOAD = { loadId: 'L1', count: 4, segmentSize: 2, segments: 2 };

const start = (now = 1000) => runScript(client, BIGLIST_START, [K.load], [String(now)]);
const done = (index: number, now = 2000) =>
  runScript(
    client,
    BIGLIST_DONE,
    [K.load, K.done, K.staged, K.biglist, K.current, K.active, K.cleanup],
    [String(index), '2', 'L1', String(now), JSON.stringify(LOAD), 'lpush'],
  );
const end = (state: 'failed' | 'cancelled', stallMs = '', now = 3000) =>
  runScript(
    client,
    BIGLIST_END,
    [K.load, K.active, K.cleanup],
    ['L1', state, 'a reason', String(now), stallMs],
  );

async function queued(): Promise<void> {
  await client.hSet(K.load, {
    state: 'queued',
    count: '4',
    segmentSize: '2',
    segments: '2',
    createdAt: '500',
  });
  await client.set(K.active, 'L1');
}

describe('biglist scripts', () => {
  it('start: a queued load runs once; an unknown load answers unknown and creates nothing', async () => {
    expect(await start()).toBe('unknown');
    expect(await client.exists(K.load)).toBe(0);
    await queued();
    expect(await start(1000)).toBe('running');
    expect(await start(9000)).toBe('running');
    expect(await client.hGet(K.load, 'startedAt')).toBe('1000');
  });

  it('done: pending, then published exactly once with the load it replaced queued for clean-up', async () => {
    await queued();
    await client.set(K.current, JSON.stringify({ ...LOAD, loadId: 'L0' }));
    await client.rPush(K.staged, ['4', '3']);
    expect(await done(0)).toEqual({ status: 'pending' });
    expect(await done(0)).toEqual({ status: 'pending' });
    expect(await client.hGet(K.load, 'loaded')).toBe('2');
    const published = await done(1);
    expect(published.status).toBe('published');
    expect(published.status === 'published' && JSON.parse(published.previous)).toMatchObject({
      loadId: 'L0',
    });
    expect(await client.lRange(K.biglist, 0, -1)).toEqual(['4', '3']);
    expect(await client.sMembers(K.cleanup)).toEqual(['L0']);
    expect(await client.exists(K.active)).toBe(0);
    // A redelivery after publication changes nothing and says the load ended.
    expect(await done(1)).toEqual({ status: 'ended', state: 'completed' });
    expect(await client.hGet(K.load, 'loaded')).toBe('4');
  });

  it('done on an unknown or ended load answers ended with its state', async () => {
    expect(await done(0)).toEqual({ status: 'ended', state: 'unknown' });
    await queued();
    expect(await end('cancelled')).toBe('cancelled');
    expect(await done(0)).toEqual({ status: 'ended', state: 'cancelled' });
  });

  it('end: frees the loader and queues the load once; a load not stale is left running; unknown is unknown', async () => {
    expect(await end('failed')).toBe('unknown');
    await queued();
    await start(1000);
    expect(await end('failed', '60000', 2000)).toBe('running');
    expect(await client.get(K.active)).toBe('L1');
    expect(await end('failed', '500', 2000)).toBe('failed');
    expect(await client.exists(K.active)).toBe(0);
    expect(await client.sMembers(K.cleanup)).toEqual(['L1']);
    expect(await end('cancelled')).toBe('failed');
    expect(await client.hGet(K.load, 'error')).toBe('a reason');
  });

  it('commit: a complete attempt is renamed into place once; a second copy is a duplicate and is dropped', async () => {
    await client.rPush('{s}:a1', ['2', '1']);
    await client.pExpire('{s}:a1', 60_000);
    await client.rPush('{s}:a2', ['2', '1']);
    expect(await runScript(client, BIGLIST_COMMIT, ['{s}:a1', '{s}:final'], ['2'])).toBe('committed');
    expect(await client.pTTL('{s}:final')).toBe(-1);
    expect(await runScript(client, BIGLIST_COMMIT, ['{s}:a2', '{s}:final'], ['2'])).toBe('duplicate');
    expect(await client.exists('{s}:a2')).toBe(0);
    expect(await client.lRange('{s}:final', 0, -1)).toEqual(['2', '1']);
  });
});
