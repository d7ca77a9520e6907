// The merge of a guest cart at sign-in, interrupted: Redis cut off between its steps (after the guest cart
// was frozen; with the reply of the step that adds the lines lost), then the merge retried. The shopper's
// cart ends as after one clean merge, and the guest cart takes no write in between.
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';

import type { Runner } from '../../local-runner/index.js';
import { type DevIssuer, startDevIssuer } from '../../scripts/devIssuer.js';
import { GUEST_FINISH, GUEST_FREEZE, MERGE_APPLY } from '../../shared/carts/guestScripts.js';
import { type AppBehindProxy, startAppBehindProxy } from '../support/behindProxy.js';
import type { FaultProxy } from '../support/faultProxy.js';
import { call, type Res, until, untilAnswered } from '../support/http.js';
import { admin } from '../support/redis.js';

const servers = inject('servers');
const DEADLINE_MS = 1500;
const AUDIENCE = 'api://cart-merge-faults';
let app: AppBehindProxy;
let runner: Runner;
let proxy: FaultProxy;
let issuer: DevIssuer;

const api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  call(runner.url, method, path, body, headers);
const lines = (res: Res) =>
  Object.fromEntries(
    (res.body.items as Array<{ skuId: string; quantity: number }>).map((l) => [l.skuId, l.quantity]),
  );
const storedCart = (userId: string) => admin(app.redis.port, (c) => c.hGetAll(`cart:${userId}`));

/** A shopper with sku1 x1 in their cart and a guest cart holding sku1 x2 and sku2 x1. */
async function arrange(sub: string): Promise<{ shopper: Record<string, string>; token: string }> {
  const shopper = { Authorization: `Bearer ${await issuer.issue({ sub })}` };
  expect((await api('POST', '/me/cart/items', { skuId: 'sku1' }, shopper)).status).toBe(200);
  const token = (await api('POST', '/guest-cart')).body.cartToken as string;
  await api('POST', '/guest-cart/items', { skuId: 'sku1', quantity: 2 }, { 'Cart-Token': token });
  await api('POST', '/guest-cart/items', { skuId: 'sku2' }, { 'Cart-Token': token });
  return { shopper, token };
}

beforeAll(async () => {
  issuer = await startDevIssuer({ audience: AUDIENCE });
  app = await startAppBehindProxy(servers, DEADLINE_MS, { AUTH_ISSUER: issuer.url, AUTH_AUDIENCE: AUDIENCE });
  ({ runner, proxy } = app);
  const adminToken = await issuer.issue({ sub: 'ops', roles: ['Cart.Admin'] });
  for (const id of ['sku1', 'sku2']) {
    await api('PUT', `/skus/${id}`, { name: id, price: '1.00' }, { Authorization: `Bearer ${adminToken}` });
  }
  // Loaded before the traps are armed, so that each marked EVALSHA is the step itself.
  await admin(app.redis.port, async (c) => {
    for (const s of [GUEST_FREEZE, MERGE_APPLY, GUEST_FINISH]) await c.scriptLoad(s.source);
  });
});

afterAll(async () => {
  await app.stop();
  await issuer.stop();
});

beforeEach(async () => {
  proxy.pass();
  await until('health 200', async () => ((await api('GET', '/health')).status === 200 ? true : undefined));
});

describe('a merge interrupted between its steps', { timeout: 60_000 }, () => {
  it('after the guest cart was frozen: 503, nothing added, the guest cart refuses writes; the retry merges the frozen lines once', async () => {
    const { shopper, token } = await arrange('frozen');
    const cut = proxy.cutAfter(GUEST_FREEZE.sha1, 'deliver', DEADLINE_MS + 1500);
    const first = await api('POST', '/me/cart/merge', undefined, { ...shopper, 'Cart-Token': token });
    await cut;
    expect([first.status, first.headers.get('retry-after') !== null]).toEqual([503, true]);
    await until('health 200', async () => ((await api('GET', '/health')).status === 200 ? true : undefined));
    expect(await storedCart('frozen')).toEqual({ sku1: '1' });
    const meanwhile = await api('POST', '/guest-cart/items', { skuId: 'sku2' }, { 'Cart-Token': token });
    expect([meanwhile.status, meanwhile.body.code]).toEqual([404, 'guest_cart_not_found']);
    const retry = await untilAnswered(() =>
      api('POST', '/me/cart/merge', undefined, { ...shopper, 'Cart-Token': token }),
    );
    expect([retry.status, lines(retry)]).toEqual([200, { sku1: 3, sku2: 1 }]);
    expect(await storedCart('frozen')).toEqual({ sku1: '3', sku2: '1' });
  });

  it('with the reply of the step that adds the lines lost past the deadline: 503, and the retry adds nothing more', async () => {
    const { shopper, token } = await arrange('lost');
    const cut = proxy.cutAfter(MERGE_APPLY.sha1, 'lose', DEADLINE_MS + 1500);
    const first = await api('POST', '/me/cart/merge', undefined, { ...shopper, 'Cart-Token': token });
    await cut;
    expect(first.status).toBe(503);
    await until('health 200', async () => ((await api('GET', '/health')).status === 200 ? true : undefined));
    expect(await storedCart('lost')).toEqual({ sku1: '3', sku2: '1' });
    const retry = await untilAnswered(() =>
      api('POST', '/me/cart/merge', undefined, { ...shopper, 'Cart-Token': token }),
    );
    expect([retry.status, lines(retry)]).toEqual([200, { sku1: 3, sku2: 1 }]);
    expect(await storedCart('lost')).toEqual({ sku1: '3', sku2: '1' });
  });

  it('with that reply lost for a moment: answered as merged in the same request (the step is run again and finds its record)', async () => {
    const { shopper, token } = await arrange('blip');
    const cut = proxy.cutAfter(MERGE_APPLY.sha1, 'lose', 200);
    const res = await api('POST', '/me/cart/merge', undefined, { ...shopper, 'Cart-Token': token });
    await cut;
    expect([res.status, lines(res)]).toEqual([200, { sku1: 3, sku2: 1 }]);
    expect(await storedCart('blip')).toEqual({ sku1: '3', sku2: '1' });
  });

  it('before the guest cart was cleared: the merge is answered, and the frozen cart is finished by the next call', async () => {
    const { shopper, token } = await arrange('unfinished');
    const cut = proxy.cutAfter(GUEST_FINISH.sha1, 'lose', DEADLINE_MS + 1500);
    const res = await api('POST', '/me/cart/merge', undefined, { ...shopper, 'Cart-Token': token });
    await cut;
    expect([res.status === 200 || res.status === 503, await storedCart('unfinished')]).toEqual([
      true,
      { sku1: '3', sku2: '1' },
    ]);
    await until('health 200', async () => ((await api('GET', '/health')).status === 200 ? true : undefined));
    const again = await untilAnswered(() =>
      api('POST', '/me/cart/merge', undefined, { ...shopper, 'Cart-Token': token }),
    );
    expect([again.status, lines(again)]).toEqual([200, { sku1: 3, sku2: 1 }]);
    const guestLeft = await admin(app.redis.port, (c) => c.keys('guestcart:*'));
    expect(guestLeft).toEqual([]);
  });
});
