// Faults of the Redis connection, end to end through the local runner: a Redis behind a fault proxy
// that stalls with its sockets open, black-holes traffic, answers slowly or cuts connections.
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';

import type { Runner } from '../../local-runner/index.js';
import { descendingListPayload } from '../../shared/redis/rdb/listPayload.js';
import { type AppBehindProxy, startAppBehindProxy } from '../support/behindProxy.js';
import type { FaultProxy } from '../support/faultProxy.js';
import { call, type Res, until } from '../support/http.js';
import { admin } from '../support/redis.js';
import type { RedisProcess } from '../support/servers.js';

const servers = inject('servers');
const DEADLINE_MS = 2000;
// What a request may take beyond the deadline on a loaded test machine (scheduling, the runner's own work).
const SLACK_MS = 1000;
let app: AppBehindProxy;
let runner: Runner;
let redis: RedisProcess;
let proxy: FaultProxy;

const api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  call(runner.url, method, path, body, headers);

function expectUnavailable(res: Res, what: string): void {
  expect({ what, status: res.status, code: res.body?.code }).toEqual({
    what,
    status: 503,
    code: 'redis_unavailable',
  });
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.headers.get('retry-after')).toBe('5');
  expect(res.ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
}

/** Every kind of request the app serves, each answered while the fault lasts. */
const requests: Array<[string, string, unknown?]> = [
  ['GET', '/health'],
  ['GET', '/carts/1'],
  ['POST', '/carts/1/items', { skuId: 'sku123' }],
  ['GET', '/users/1'],
  ['GET', '/skus?limit=5'],
  ['GET', '/biglist?limit=5'],
];

async function expectHealthyAgain(): Promise<void> {
  const res = await until('health 200', async () => {
    const r = await api('GET', '/health');
    return r.status === 200 ? r : undefined;
  });
  expect(res.status).toBe(200);
  expect((await api('GET', '/carts/1')).status).toBe(200);
}

beforeAll(async () => {
  app = await startAppBehindProxy(servers, DEADLINE_MS);
  ({ runner, redis, proxy } = app);
  await api('POST', '/users', { id: '1', firstName: 'Parker', lastName: 'Perry' });
  await api('PUT', '/skus/sku123', { name: 'AirPods', price: '199.99' });
});

afterAll(async () => {
  await app.stop();
});

beforeEach(async () => {
  proxy.pass();
  await expectHealthyAgain();
});

describe('a Redis that stops answering', () => {
  it('answers every request with 503 and Retry-After within the deadline while Redis stalls with its sockets open, then recovers by itself', async () => {
    proxy.stall();
    // Concurrently, as production traffic arrives: every waiting request must be released.
    const results = await Promise.all(requests.map(([m, p, b]) => api(m, p, b)));
    results.forEach((r, i) => {
      expectUnavailable(r, requests[i]?.join(' ') ?? '');
    });
    // Still stalled: new requests (which now find no connection, or a new one that stalls) are bounded too.
    const again = await Promise.all(requests.map(([m, p, b]) => api(m, p, b)));
    again.forEach((r, i) => {
      expectUnavailable(r, `${requests[i]?.join(' ') ?? ''} again`);
    });
    proxy.pass();
    await expectHealthyAgain();
    // Nothing was half-applied by the add that got 503 (it never reached Redis, or reached it whole).
    const cart = (await api('GET', '/carts/1')).body;
    expect(cart.items.length).toBeLessThanOrEqual(1);
  });

  it('answers within the deadline while the redis-server process itself is paused, and recovers when it resumes', async () => {
    redis.child.kill('SIGSTOP');
    try {
      const results = await Promise.all(requests.map(([m, p, b]) => api(m, p, b)));
      results.forEach((r, i) => {
        expectUnavailable(r, `${requests[i]?.join(' ') ?? ''} (SIGSTOP)`);
      });
    } finally {
      redis.child.kill('SIGCONT');
    }
    await expectHealthyAgain();
  });

  it('answers within the deadline when the network black-holes every byte, and recovers', async () => {
    proxy.drop();
    const results = await Promise.all(requests.map(([m, p, b]) => api(m, p, b)));
    results.forEach((r, i) => {
      expectUnavailable(r, requests[i]?.join(' ') ?? '');
    });
    proxy.pass();
    await expectHealthyAgain();
  });

  it('tears the stuck connection down instead of waiting on it', async () => {
    const mark = proxy.mark();
    expect(proxy.openBefore(mark)).toBeGreaterThan(0);
    proxy.stall();
    expectUnavailable(await api('GET', '/carts/1'), 'GET /carts/1');
    // Every socket that stalled is closed by the app (the shared client's and the SKU cache's); only
    // connection attempts it makes afterwards remain.
    await until('the stalled connections to close', () =>
      Promise.resolve(proxy.openBefore(mark) === 0 ? true : undefined),
    );
    proxy.pass();
    await expectHealthyAgain();
  });

  it('keeps serving a Redis that is slow but answers, without tearing connections down', async () => {
    proxy.delay(300);
    const health = await api('GET', '/health');
    expect(health.status).toBe(200);
    const add = await api('POST', '/carts/1/items', { skuId: 'sku123' });
    expect(add.status).toBe(200);
    proxy.pass();
  });

  it('answers 503 at once when connections are cut or refused, and recovers when Redis listens again', async () => {
    proxy.cut();
    const afterCut = await api('GET', '/carts/1');
    expect([200, 503]).toContain(afterCut.status);
    await proxy.refuse();
    proxy.cut();
    for (const [m, p, b] of requests) expectUnavailable(await api(m, p, b), `${m} ${p} refused`);
    await proxy.accept();
    await expectHealthyAgain();
  });
});

describe('a stall inside a streamed response', () => {
  it('ends the export (the connection is cut, never left hanging) and the next export works again', async () => {
    // A published list of three segments, written straight into Redis.
    await admin(redis.port, async (c) => {
      await c.restore('biglist:{exp1:0}', 0, descendingListPayload(1_000_000, 1), { REPLACE: true });
      await c.restore('biglist:{exp1:1}', 0, descendingListPayload(2_000_000, 1_000_001), { REPLACE: true });
      await c.restore('biglist', 0, descendingListPayload(3_000_000, 2_000_001), { REPLACE: true });
      await c.set(
        '{biglist}:current',
        JSON.stringify({ loadId: 'exp1', count: 3_000_000, segmentSize: 1_000_000, segments: 3 }),
      );
    });
    const res = await fetch(`${runner.url}/api/biglist/export`);
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.done ? undefined : first.value).startsWith('3000000\n')).toBe(true);
    proxy.stall();
    const stalledAt = Date.now();
    let received = 0;
    const cut = await (async () => {
      try {
        for (;;) {
          const next = await reader.read();
          if (next.done) return false;
          received += next.value.length;
        }
      } catch {
        return true;
      }
    })();
    expect(cut).toBe(true);
    // What was already read from Redis is delivered; the read that stalled ends it within the deadline.
    expect(Date.now() - stalledAt).toBeLessThan(DEADLINE_MS + 5000);
    expect(received).toBeLessThan(3_000_000 * 8);
    proxy.pass();
    await expectHealthyAgain();
    const again = await fetch(`${runner.url}/api/biglist/export`);
    expect((await again.text()).split('\n').length).toBe(3_000_001);
  });
});

describe('server states that pass', () => {
  it('answers writes with 503 while Redis is out of memory and keeps serving reads', async () => {
    // One byte: every command that may grow memory is refused, as on a full AMR with NoEviction.
    await admin(redis.port, (c) => c.configSet({ 'maxmemory-policy': 'noeviction', maxmemory: '1' }));
    try {
      for (const [m, p, b] of [
        ['POST', '/carts/1/items', { skuId: 'sku123' }],
        ['POST', '/users', { firstName: 'New', lastName: 'User' }],
        ['PUT', '/skus/sku999', { name: 'More', price: '1.00' }],
        ['POST', '/biglist/loads', { count: 10 }],
      ] as const) {
        const res = await api(m, p, b);
        expect({ p, status: res.status, code: res.body?.code }).toEqual({
          p,
          status: 503,
          code: 'redis_unavailable',
        });
        expect(res.headers.get('retry-after')).toBe('5');
      }
      expect((await api('GET', '/carts/1')).status).toBe(200);
      expect((await api('GET', '/users/1')).status).toBe(200);
      expect((await api('GET', '/skus/sku123')).status).toBe(200);
      expect((await api('GET', '/health')).status).toBe(200);
    } finally {
      await admin(redis.port, (c) => c.configSet({ maxmemory: '0' }));
    }
    expect((await api('POST', '/carts/1/items', { skuId: 'sku123' })).status).toBe(200);
  });

  it('answers 503 while a script keeps Redis busy', async () => {
    await admin(redis.port, (c) => c.configSet({ 'busy-reply-threshold': '100' }));
    const blocker = admin(redis.port, (c) =>
      c.eval(
        'local t = redis.call("TIME"); while true do local n = redis.call("TIME"); if n[1] - t[1] > 3 then break end end',
        {
          keys: [],
          arguments: [],
        },
      ),
    ).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    const res = await api('GET', '/carts/1');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    await blocker;
    await expectHealthyAgain();
  });
});

describe('function keys', () => {
  it('accepts (and ignores) the key in the query string on every route', async () => {
    for (const [m, p, b] of [
      ['GET', '/skus?code=abc'],
      ['GET', '/skus?limit=2&code=abc'],
      ['GET', '/biglist?code=abc'],
      ['GET', '/carts/1?code=abc'],
      ['POST', '/carts/1/items?code=abc', { skuId: 'sku123' }],
      ['DELETE', '/carts/1/items/sku123?quantity=1&code=abc'],
      ['GET', '/health?code=abc'],
    ] as const) {
      const res = await api(m, p, b);
      expect([m, p, res.status]).toEqual([m, p, 200]);
    }
  });
});
