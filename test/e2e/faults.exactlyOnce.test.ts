// Exactly once, end to end through the local runner: a Redis behind a fault proxy that cuts the
// connection at the worst moments of a write (after the change, before its pricing; or with the change's
// reply lost). A change that was applied is answered as applied, and a retry never applies it twice.
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';

import type { Runner } from '../../local-runner/index.js';
import { CART_ADD, CART_REMOVE, CART_RESERVE } from '../../shared/carts/scripts.js';
import { USER_CREATE } from '../../shared/users/scripts.js';
import { type AppBehindProxy, startAppBehindProxy } from '../support/behindProxy.js';
import type { FaultProxy } from '../support/faultProxy.js';
import { call, until, untilAnswered } from '../support/http.js';
import { admin } from '../support/redis.js';

const servers = inject('servers');
const DEADLINE_MS = 2000;
let app: AppBehindProxy;
let runner: Runner;
let proxy: FaultProxy;
let port: number;

const api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  call(runner.url, method, path, body, headers);
const quantity = (userId: string, sku = 'sku123') =>
  admin(port, (c) => c.hGet(`cart:${userId}`, sku)).then((v) => Number(v ?? 0));

async function healthy(): Promise<void> {
  await until('health 200', async () => ((await api('GET', '/health')).status === 200 ? true : undefined));
}

beforeAll(async () => {
  app = await startAppBehindProxy(servers, DEADLINE_MS);
  ({ runner, proxy } = app);
  port = app.redis.port;
  await api('PUT', '/skus/sku123', { name: 'AirPods', price: '199.99' });
  // Loaded before the traps are armed, so the marked EVALSHA is the one that applies the change (not a
  // NOSCRIPT answer followed by an EVAL of the source).
  await admin(port, async (c) => {
    for (const s of [CART_ADD, CART_REMOVE, CART_RESERVE, USER_CREATE]) await c.scriptLoad(s.source);
  });
});

afterAll(async () => {
  await app.stop();
});

beforeEach(async () => {
  proxy.pass();
  await healthy();
});

describe('a write cut off between its change and its pricing', { timeout: 60_000 }, () => {
  it('answers an add without a key as applied (the cart without prices) when the SKUs stay unreadable past the deadline, and applied it once', async () => {
    await api('POST', '/users', { id: 'cut-nokey', firstName: 'N', lastName: 'K' });
    const cut = proxy.cutAfter(CART_ADD.sha1, 'deliver', DEADLINE_MS + 1500);
    const res = await api('POST', '/carts/cut-nokey/items', { skuId: 'sku123', quantity: 2 });
    await cut;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      userId: 'cut-nokey',
      items: [
        { skuId: 'sku123', name: null, unitPrice: null, quantity: 2, lineTotal: null, available: null },
      ],
      totalQuantity: 2,
      total: null,
      priced: false,
    });
    // No ETag: it stands for a priced body; the next read has one.
    expect(res.headers.get('etag')).toBeNull();
    await healthy();
    expect(await quantity('cut-nokey')).toBe(2);
    const read = await api('GET', '/carts/cut-nokey');
    expect([read.body.total, read.body.priced, read.headers.get('etag') !== null]).toEqual([
      '399.98',
      undefined,
      true,
    ]);
  });

  it('retries the pricing within the deadline: a short cut after the change still answers the priced cart', async () => {
    await api('POST', '/users', { id: 'cut-short', firstName: 'S', lastName: 'C' });
    const cut = proxy.cutAfter(CART_ADD.sha1, 'deliver', 200);
    const res = await api('POST', '/carts/cut-short/items', { skuId: 'sku123' });
    await cut;
    expect([res.status, res.body.total, res.body.priced]).toEqual([200, '199.99', undefined]);
    expect(await quantity('cut-short')).toBe(1);
  });

  it('answers a retried key with the success, replayed, after the reply of the applied change was lost', async () => {
    await api('POST', '/users', { id: 'lost-reply', firstName: 'L', lastName: 'R' });
    const h = { 'Idempotency-Key': 'lost-reply-1' };
    const cut = proxy.cutAfter(CART_ADD.sha1, 'lose', 300);
    const first = await api('POST', '/carts/lost-reply/items', { skuId: 'sku123', quantity: 3 }, h);
    await cut;
    // The effect is unknown to the app: 503, and the key is not released for a second application.
    expect([first.status, first.body.code]).toEqual([503, 'redis_unavailable']);
    expect(await quantity('lost-reply')).toBe(3);
    const retry = await untilAnswered(() =>
      api('POST', '/carts/lost-reply/items', { skuId: 'sku123', quantity: 3 }, h),
    );
    expect([retry.status, retry.headers.get('idempotent-replayed'), retry.body.totalQuantity]).toEqual([
      200,
      'true',
      3,
    ]);
    expect(await quantity('lost-reply')).toBe(3);
  });

  it('applies a decrement once when its reply is lost and the client retries with its key', async () => {
    await api('POST', '/users', { id: 'lost-dec', firstName: 'L', lastName: 'D' });
    await api('POST', '/carts/lost-dec/items', { skuId: 'sku123', quantity: 5 });
    const h = { 'Idempotency-Key': 'lost-dec-1' };
    const cut = proxy.cutAfter(CART_REMOVE.sha1, 'lose', 300);
    const first = await api('DELETE', '/carts/lost-dec/items/sku123?quantity=2', undefined, h);
    await cut;
    expect(first.status).toBe(503);
    const retry = await untilAnswered(() =>
      api('DELETE', '/carts/lost-dec/items/sku123?quantity=2', undefined, h),
    );
    expect([retry.status, retry.headers.get('idempotent-replayed')]).toEqual([200, 'true']);
    expect(await quantity('lost-dec')).toBe(3);
    // The same key for another request is refused, and changes nothing.
    const other = await api('DELETE', '/carts/lost-dec/items/sku123?quantity=1', undefined, h);
    expect([other.status, other.body.code]).toEqual([422, 'idempotency_key_reused']);
    expect(await quantity('lost-dec')).toBe(3);
  });

  it('keeps an exact ledger: every logical add applied once under cuts before pricing and lost replies, with a client that retries until 200', async () => {
    await api('POST', '/users', { id: 'ledger', firstName: 'L', lastName: 'E' });
    const adds = 12;
    let answered = 0;
    for (let i = 0; i < adds; i++) {
      const h = { 'Idempotency-Key': `ledger-${i}` };
      // Alternately: the reply lost, a cut after the change (pricing fails), and no fault.
      const kind = i % 3;
      const cut =
        kind === 2 ? undefined : proxy.cutAfter(CART_ADD.sha1, kind === 0 ? 'lose' : 'deliver', 250);
      const res = await untilAnswered(() => api('POST', '/carts/ledger/items', { skuId: 'sku123' }, h));
      await cut;
      expect(res.status).toBe(200);
      answered++;
    }
    expect(answered).toBe(adds);
    expect(await quantity('ledger')).toBe(adds);
  });
});

describe('user creation and load starts', { timeout: 60_000 }, () => {
  it('leaves nothing without a TTL when a create fails after reserving the generation', async () => {
    const cut = proxy.cutAfter(CART_RESERVE.sha1, 'deliver', DEADLINE_MS + 500);
    const res = await api('POST', '/users', { id: 'half', firstName: 'H', lastName: 'F' });
    await cut;
    expect([res.status, res.body.code]).toEqual([503, 'redis_unavailable']);
    const { user, ttl } = await admin(port, async (c) => ({
      user: await c.exists('user:half'),
      ttl: await c.ttl('{cart:half}:owner'),
    }));
    expect(user).toBe(0);
    expect(ttl).toBeGreaterThan(0);
    // And the retry creates the user, whose owner record is then kept.
    await healthy();
    expect((await api('POST', '/users', { id: 'half', firstName: 'H', lastName: 'F' })).status).toBe(201);
    expect((await api('POST', '/carts/half/items', { skuId: 'sku123' })).status).toBe(200);
    expect(await admin(port, (c) => c.ttl('{cart:half}:owner'))).toBe(-1);
  });

  it('creates a user once when the reply is lost: the retry with the key answers the same user, never 409', async () => {
    const h = { 'Idempotency-Key': 'user-lost-reply' };
    const cut = proxy.cutAfter(USER_CREATE.sha1, 'lose', 300);
    const first = await api('POST', '/users', { firstName: 'Lost', lastName: 'Reply' }, h);
    await cut;
    expect(first.status).toBe(503);
    const retry = await untilAnswered(() =>
      api('POST', '/users', { firstName: 'Lost', lastName: 'Reply' }, h),
    );
    expect(retry.status).toBe(201);
    const id = retry.body.id as string;
    expect(await admin(port, (c) => c.hGetAll(`user:${id}`))).toEqual({
      first_name: 'Lost',
      last_name: 'Reply',
    });
    // One user for the key: the replay names the same id, whether or not the first attempt had applied.
    const again = await api('POST', '/users', { firstName: 'Lost', lastName: 'Reply' }, h);
    expect([again.status, again.body.id, again.headers.get('idempotent-replayed')]).toEqual([
      201,
      id,
      'true',
    ]);
  });
});
