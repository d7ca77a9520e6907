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
