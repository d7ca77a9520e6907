// Sign-in against a real OpenID issuer (the development one) with real signed tokens, through the local
// runner: every bad token is 401 with a Bearer challenge and writes nothing; key rotation is picked up
// without a restart; the issuer down is 503 only for a token whose key is not known yet.
import { generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import type { Runner } from '../../local-runner/index.js';
import { type DevIssuer, startDevIssuer } from '../../scripts/devIssuer.js';
import { startApp } from '../support/app.js';
import { call, type Res } from '../support/http.js';
import { admin } from '../support/redis.js';

const servers = inject('servers');
const AUDIENCE = 'api://cart-tests';
let issuer: DevIssuer;
let runner: Runner;

const me = (token?: string): Promise<Res> =>
  call(runner.url, 'GET', '/me', undefined, token === undefined ? {} : { Authorization: `Bearer ${token}` });
const userKeys = () => admin(servers.standalone.port, (c) => c.keys('user:*'));

beforeAll(async () => {
  issuer = await startDevIssuer({ audience: AUDIENCE });
  runner = await startApp(servers, {
    key: 'auth-key',
    env: {
      AUTH_ISSUER: issuer.url,
      AUTH_AUDIENCE: AUDIENCE,
      REDIS_DEADLINE_MS: '1500',
      AUTH_JWKS_COOLDOWN_SECONDS: '1',
    },
  });
});

afterAll(async () => {
  await runner.stop();
  await issuer.stop();
});

function expectUnauthorized(res: Res, what: string, invalid = true): void {
  expect({ what, status: res.status, code: res.body?.code }).toEqual({
    what,
    status: 401,
    code: 'unauthorized',
  });
  const challenge = res.headers.get('www-authenticate') ?? '';
  expect(challenge.startsWith('Bearer')).toBe(true);
  expect(challenge.includes('error="invalid_token"')).toBe(invalid);
}

describe('bearer tokens', { timeout: 60_000 }, () => {
  it("answers a valid token with the shopper's profile, created from its claims on first use", async () => {
    const token = await issuer.issue({
      sub: 'ada',
      given_name: 'Ada',
      family_name: 'Lovelace',
      email: 'ada@example.com',
    });
    const res = await me(token);
    expect([res.status, res.body]).toEqual([
      200,
      { id: 'ada', firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' },
    ]);
    expect(await admin(servers.standalone.port, (c) => c.hGetAll('user:ada'))).toEqual({
      first_name: 'Ada',
      last_name: 'Lovelace',
      email: 'ada@example.com',
    });
    // Microsoft Entra's object id wins over sub; an id outside the alphabet is mapped, deterministically.
    const entra = await me(
      await issuer.issue({ sub: 'per-app', oid: '7f1c2c9e-1111-4c3b-9f00-0123456789ab' }),
    );
    expect(entra.body.id).toBe('7f1c2c9e-1111-4c3b-9f00-0123456789ab');
    const odd = await me(await issuer.issue({ sub: 'user@tenant|42' }));
    expect(odd.body.id).toMatch(/^h[A-Za-z0-9_-]{43}$/);
    expect((await me(await issuer.issue({ sub: 'user@tenant|42' }))).body.id).toBe(odd.body.id);
  });

  it('refuses every bad token with 401 and a Bearer challenge, and writes nothing', async () => {
    const before = await userKeys();
    const good = await issuer.issue({ sub: 'mallory' });
    const [head, payload, signature] = good.split('.') as [string, string, string];
    const tampered = `${head}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'ada' })).toString('base64url')}.${signature}`;
    // An HMAC token whose secret is the issuer's public key (the classic algorithm confusion).
    const jwks = (await (await fetch(`${issuer.url}/jwks`)).json()) as {
      keys: Array<Record<string, unknown>>;
    };
    const hmac = await new SignJWT({ sub: 'mallory' })
      .setProtectedHeader({ alg: 'HS256', kid: String(jwks.keys[0]?.kid) })
      .setIssuer(issuer.url)
      .setAudience(AUDIENCE)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0])));
    const none = new UnsecuredJWT({ sub: 'mallory' })
      .setIssuer(issuer.url)
      .setAudience(AUDIENCE)
      .setExpirationTime('1h')
      .encode();
    const stranger = await generateKeyPair('ES256');
    const unknownKid = await new SignJWT({ sub: 'mallory' })
      .setProtectedHeader({ alg: 'ES256', kid: 'not-a-key-of-the-issuer' })
      .setIssuer(issuer.url)
      .setAudience(AUDIENCE)
      .setExpirationTime('1h')
      .sign(stranger.privateKey);
    const cases: Array<[string, string]> = [
      ['alg none', none],
      ['HMAC with the public key', hmac],
      ['unknown kid', unknownKid],
      ['expired', await issuer.issue({ sub: 'mallory' }, { expiresIn: -600 })],
      ['not yet valid', await issuer.issue({ sub: 'mallory' }, { notBefore: 600 })],
      ['wrong issuer', await issuer.issue({ sub: 'mallory' }, { issuer: 'https://evil.example' })],
      ['wrong audience', await issuer.issue({ sub: 'mallory' }, { audience: 'api://other' })],
      ['tampered payload', tampered],
      ['garbage', 'not.a.token'],
      ['oversized', 'a'.repeat(12_000)],
    ];
    for (const [what, token] of cases) expectUnauthorized(await me(token), what);
    expectUnauthorized(await me(), 'no token', false);
    expectUnauthorized(
      await call(runner.url, 'GET', '/me', undefined, { Authorization: 'Basic dXNlcjpwYXNz' }),
      'another scheme',
    );
    // A platform header is never trusted.
    const principal = Buffer.from(JSON.stringify({ claims: [{ typ: 'oid', val: 'ada' }] })).toString(
      'base64',
    );
    expectUnauthorized(
      await call(runner.url, 'GET', '/me', undefined, { 'x-ms-client-principal': principal }),
      'x-ms-client-principal',
      false,
    );
    expect(await userKeys()).toEqual(before);
  });

  it('accepts a rotated key without a restart, and fetches the key set at most once per cooldown for unknown kids', async () => {
    const first = await me(await issuer.issue({ sub: 'before-rotation' }));
    expect([first.status, first.body]).toMatchObject([200, { id: 'before-rotation' }]);
    await issuer.rotate();
    // The first token with the new kid refetches the key set (past the cooldown, 1 s in this test).
    await new Promise((r) => setTimeout(r, 1100));
    expect((await me(await issuer.issue({ sub: 'after-rotation' }))).status).toBe(200);
    // A flood of made-up kids: at most one fetch per cooldown, not one per token.
    const stranger = await generateKeyPair('ES256');
    const forged = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        new SignJWT({ sub: 'flood' })
          .setProtectedHeader({ alg: 'ES256', kid: `made-up-${i}` })
          .setIssuer(issuer.url)
          .setAudience(AUDIENCE)
          .setExpirationTime('1h')
          .sign(stranger.privateKey),
      ),
    );
    const fetches = issuer.jwksFetches;
    const started = Date.now();
    for (let i = 0; i < forged.length; i += 20) {
      const answers = await Promise.all(forged.slice(i, i + 20).map((t) => me(t)));
      answers.forEach((a, j) => expectUnauthorized(a, `made-up kid ${i + j}`));
    }
    const windows = Math.ceil((Date.now() - started) / 1000) + 1;
    expect(issuer.jwksFetches - fetches).toBeLessThanOrEqual(windows);
    expect(forged.length).toBeGreaterThan(windows * 10);
  });
});

describe('who may do what', { timeout: 60_000 }, () => {
  const KEY = { 'x-functions-key': 'auth-key' };
  const as = (token: string) => ({ ...KEY, Authorization: `Bearer ${token}` });
  const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    call(runner.url, method, path, body, headers);

  it('keeps each shopper to their own cart, and tells no shopper whether another id has one', async () => {
    const adminToken = await issuer.issue({ sub: 'ops', roles: ['Cart.Admin'] });
    expect(
      (await api('PUT', '/skus/sku123', { name: 'AirPods', price: '199.99' }, as(adminToken))).status,
    ).toBe(201);
    const alice = await issuer.issue({ sub: 'alice', given_name: 'Alice' });
    const bob = await issuer.issue({ sub: 'bob', given_name: 'Bob' });
    const h = { Authorization: `Bearer ${alice}`, 'Idempotency-Key': 'alice-add-1' };
    const added = await api('POST', '/me/cart/items', { skuId: 'sku123', quantity: 2 }, h);
    expect([added.status, added.body.userId, added.body.total]).toEqual([200, 'alice', '399.98']);
    const replay = await api('POST', '/me/cart/items', { skuId: 'sku123', quantity: 2 }, h);
    expect([replay.status, replay.headers.get('idempotent-replayed')]).toEqual([200, 'true']);
    // If-Match as on the admin routes: a stale tag is 412.
    const stale = await api(
      'PUT',
      '/me/cart/items/sku123',
      { quantity: 5 },
      {
        Authorization: `Bearer ${alice}`,
        'If-Match': '"stale"',
      },
    );
    expect(stale.status).toBe(412);
    const bobs = await api('GET', '/me/cart', undefined, { Authorization: `Bearer ${bob}` });
    expect([bobs.status, bobs.body.userId, bobs.body.items]).toEqual([200, 'bob', []]);
    // Another's cart through the admin routes: refused the same way whether it exists or not.
    for (const id of ['alice', 'nobody-at-all']) {
      for (const [method, path, body] of [
        ['GET', `/carts/${id}`, undefined],
        ['DELETE', `/carts/${id}`, undefined],
        ['POST', `/carts/${id}/items`, { skuId: 'sku123' }],
        ['PUT', `/carts/${id}/items/sku123`, { quantity: 1 }],
        ['DELETE', `/carts/${id}/items/sku123`, undefined],
        ['GET', `/users/${id}`, undefined],
      ] as const) {
        const res = await api(method, path, body, as(bob));
        expect({ method, path, status: res.status, code: res.body?.code }).toEqual({
          method,
          path,
          status: 403,
          code: 'forbidden',
        });
      }
    }
    expect(await admin(servers.standalone.port, (c) => c.hGetAll('cart:alice'))).toEqual({ sku123: '2' });
  });

  it('keeps the catalogue public to read and the admin role alone able to change it, load lists or delete users', async () => {
    const shopperToken = await issuer.issue({ sub: 'carol' });
    const adminToken = await issuer.issue({ sub: 'ops', roles: ['Cart.Admin'] });
    expect((await api('GET', '/skus?limit=5')).status).toBe(200);
    expect((await api('GET', '/skus/sku123')).status).toBe(200);
    const writes: Array<[string, string, unknown]> = [
      ['PUT', '/skus/sku999', { name: 'Nope', price: '1.00' }],
      ['DELETE', '/skus/sku123', undefined],
      ['POST', '/biglist/loads', { count: 10 }],
      ['GET', '/biglist?limit=5', undefined],
      ['DELETE', '/users/alice', undefined],
      ['POST', '/users', { firstName: 'X', lastName: 'Y' }],
    ];
    for (const [method, path, body] of writes) {
      const res = await api(method, path, body, as(shopperToken));
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 403 });
      // The key alone is not enough once sign-in is on.
      const keyOnly = await api(method, path, body, KEY);
      expect({ method, path, status: keyOnly.status }).toEqual({ method, path, status: 401 });
    }
    expect(await admin(servers.standalone.port, (c) => c.exists('sku:sku999'))).toBe(0);
    expect((await api('PUT', '/skus/sku999', { name: 'Yes', price: '1.00' }, as(adminToken))).status).toBe(
      201,
    );
  });
});

describe('the issuer unreachable', { timeout: 60_000 }, () => {
  it('keeps accepting tokens signed with known keys, and answers 503 (never 401) for one that needs a key it cannot fetch', async () => {
    const known = await issuer.issue({ sub: 'known-key' });
    expect((await me(known)).status).toBe(200);
    await issuer.rotate();
    const needsNewKey = await issuer.issue({ sub: 'new-key' });
    await issuer.stop();
    expect((await me(known)).status).toBe(200);
    // Past the unknown-kid cooldown the key set is fetched again, and that fetch fails.
    await new Promise((r) => setTimeout(r, 1100));
    const res = await me(needsNewKey);
    expect([res.status, res.body.code, res.headers.get('retry-after')]).toEqual([
      503,
      'auth_unavailable',
      '5',
    ]);
    expect(res.ms).toBeLessThan(1500 + 1500);
  });
});
