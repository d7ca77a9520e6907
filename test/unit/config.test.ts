import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ConfigError, parseConfig } from '../../shared/config.js';

describe('parseConfig', () => {
  it('defaults to a plain standalone Redis on 127.0.0.1:6379 without auth', () => {
    const { redis, retryAfterSeconds } = parseConfig({});
    expect(redis).toMatchObject({
      host: '127.0.0.1',
      port: 6379,
      tls: false,
      cluster: false,
      auth: { mode: 'none' },
    });
    expect(redis.ca).toBeUndefined();
    expect(redis.pingIntervalMs).toBeLessThan(600_000);
    expect(retryAfterSeconds).toBe(5);
  });

  it('turns TLS on for rediss:// URLs and keeps the port', () => {
    const { redis } = parseConfig({ REDIS_URL: 'rediss://cache.example.net:6380' });
    expect(redis).toMatchObject({ host: 'cache.example.net', port: 6380, tls: true });
  });

  it('builds a TLS endpoint on port 10000 from REDIS_HOST, as AMR needs', () => {
    const { redis } = parseConfig({
      REDIS_HOST: 'x.westeurope.redis.azure.net',
      REDIS_CLUSTER: 'true',
      REDIS_AUTH: 'entra',
      AZURE_CLIENT_ID: 'abc',
    });
    expect(redis).toMatchObject({
      host: 'x.westeurope.redis.azure.net',
      port: 10000,
      tls: true,
      cluster: true,
      auth: { mode: 'entra', clientId: 'abc' },
    });
  });

  it('treats empty variables as unset', () => {
    expect(parseConfig({ REDIS_URL: '', REDIS_CLUSTER: '' }).redis).toMatchObject({
      port: 6379,
      cluster: false,
    });
  });

  it('reads password auth with the default ACL user', () => {
    const { redis } = parseConfig({ REDIS_AUTH: 'password', REDIS_PASSWORD: 'pw' });
    expect(redis.auth).toEqual({ mode: 'password', username: 'default', password: 'pw' });
  });

  it('reads the CA bundle named by REDIS_TLS_CA_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'ca.pem'), 'PEM');
    expect(parseConfig({ REDIS_URL: 'rediss://h:1', REDIS_TLS_CA_FILE: join(dir, 'ca.pem') }).redis.ca).toBe(
      'PEM',
    );
  });

  it.each([
    [{ REDIS_URL: 'http://x:1' }, 'REDIS_URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ REDIS_URL: 'redis://user:secret@h:1' }, 'REDIS_URL'],
    [{ REDIS_CLUSTER: 'maybe' }, 'REDIS_CLUSTER'],
    [{ REDIS_AUTH: 'kerberos' }, 'REDIS_AUTH'],
    [{ REDIS_PORT: '70000', REDIS_HOST: 'h' }, 'REDIS_PORT'],
    [{ REDIS_DEADLINE_MS: '1.5' }, 'REDIS_DEADLINE_MS'],
    [{ REDIS_DEADLINE_MS: '60001' }, 'REDIS_DEADLINE_MS'],
    [{ NODE_TLS_REJECT_UNAUTHORIZED: '0' }, 'NODE_TLS_REJECT_UNAUTHORIZED'],
    [
      { REDIS_URL: 'redis://cache.internal:6379', REDIS_AUTH: 'password', REDIS_PASSWORD: 'pw' },
      'REDIS_AUTH',
    ],
    [{ REDIS_URL: 'redis://10.0.0.5:6379', REDIS_AUTH: 'password', REDIS_PASSWORD: 'pw' }, 'REDIS_AUTH'],
    [{ REDIS_PING_INTERVAL_MS: '600000' }, 'REDIS_PING_INTERVAL_MS'],
    [{ REDIS_HOST: 'bad host!' }, 'REDIS_HOST'],
    [{ REDIS_AUTH: 'password' }, 'REDIS_PASSWORD'],
    [{ REDIS_AUTH: 'entra' }, 'REDIS_AUTH'],
    [{ REDIS_URL: 'rediss://h:1', REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' }, 'REDIS_TLS_CA_FILE'],
  ])('rejects %j with an error naming %s', (env, variable) => {
    expect(() => parseConfig(env)).toThrow(ConfigError);
    expect(() => parseConfig(env)).toThrow(new RegExp(`${variable}:`));
  });

  it('bounds every wait on Redis by a 2 s deadline by default; 0 turns the watchdog off', () => {
    expect(parseConfig({}).redis.deadlineMs).toBe(2000);
    expect(parseConfig({ REDIS_DEADLINE_MS: '0' }).redis.deadlineMs).toBe(0);
  });

  it.each(['127.0.0.1', 'localhost', '[::1]', '127.0.0.2'])(
    'allows password auth without TLS only to a loopback host such as %s',
    (host) => {
      const { redis } = parseConfig({
        REDIS_URL: `redis://${host}:6379`,
        REDIS_AUTH: 'password',
        REDIS_PASSWORD: 'pw',
      });
      expect(redis.auth.mode).toBe('password');
    },
  );

  it('allows password auth over TLS to any host', () => {
    const { redis } = parseConfig({
      REDIS_URL: 'rediss://cache.example.net:6380',
      REDIS_AUTH: 'password',
      REDIS_PASSWORD: 'pw',
    });
    expect(redis).toMatchObject({ tls: true, auth: { mode: 'password' } });
  });

  it('accepts NODE_TLS_REJECT_UNAUTHORIZED=1, which changes nothing', () => {
    expect(() => parseConfig({ NODE_TLS_REJECT_UNAUTHORIZED: '1' })).not.toThrow();
  });

  it('does not echo a password from the URL in the error', () => {
    expect(() => parseConfig({ REDIS_URL: 'redis://u:hunter2@h:1' })).not.toThrow(/hunter2/);
  });
});

describe('sign-in settings', () => {
  const entra =
    'https://11111111-2222-3333-4444-555555555555.ciamlogin.com/11111111-2222-3333-4444-555555555555/v2.0';

  it('is off without AUTH_ISSUER, and needs AUTH_AUDIENCE with it', () => {
    expect(parseConfig({}).auth).toBeUndefined();
    expect(() => parseConfig({ AUTH_ISSUER: entra })).toThrow(/AUTH_AUDIENCE: required/);
  });

  it('signs the storefront in with MSAL at the issuer without /v2.0 when AUTH_CLIENT_ID is set', () => {
    const { auth } = parseConfig({
      AUTH_ISSUER: entra,
      AUTH_AUDIENCE: 'api://cart',
      AUTH_CLIENT_ID: 'spa-id',
    });
    expect(auth?.page).toEqual({
      mode: 'entra',
      clientId: 'spa-id',
      authority: entra.replace('/v2.0', ''),
      scopes: ['api://cart/.default'],
    });
    const custom = parseConfig({
      AUTH_ISSUER: entra,
      AUTH_AUDIENCE: 'api://cart',
      AUTH_CLIENT_ID: 'spa-id',
      AUTH_AUTHORITY: 'https://shop.ciamlogin.com/',
      AUTH_SCOPES: 'api://cart/Cart.Shop openid',
    });
    expect(custom.auth?.page).toMatchObject({
      authority: 'https://shop.ciamlogin.com/',
      scopes: ['api://cart/Cart.Shop', 'openid'],
    });
  });

  it('uses the development issuer only on loopback, and no page sign-in for another issuer without a client id', () => {
    const dev = parseConfig({ AUTH_ISSUER: 'http://127.0.0.1:7072', AUTH_AUDIENCE: 'api://dev' });
    expect(dev.auth?.page).toEqual({ mode: 'development', tokenEndpoint: 'http://127.0.0.1:7072/token' });
    expect(parseConfig({ AUTH_ISSUER: entra, AUTH_AUDIENCE: 'api://cart' }).auth?.page).toBeUndefined();
    expect(() =>
      parseConfig({ AUTH_ISSUER: 'http://login.example.com', AUTH_AUDIENCE: 'api://cart' }),
    ).toThrow(/AUTH_ISSUER: must be https/);
  });
});
