import { randomUUID } from 'node:crypto';

import type { AccessToken, TokenCredential } from '@azure/identity';
import { RedisCluster } from 'redis';
import { afterEach, describe, expect, inject, it } from 'vitest';

import { RedisUnavailableError } from '../../shared/errors.js';
import { connectRedis, type Redis } from '../../shared/redis/connect.js';
import { admin, redisConfig } from '../support/redis.js';

const servers = inject('servers');
const open: Redis[] = [];
const quiet = { warn: () => undefined, error: () => undefined };

async function connect(env: Record<string, string>, deps = {}): Promise<Redis> {
  const redis = await connectRedis(redisConfig(env), { logger: quiet, ...deps });
  open.push(redis);
  return redis;
}

afterEach(() => {
  for (const r of open.splice(0)) r.destroy();
});

describe('connectRedis (standalone)', () => {
  it('connects over plain TCP and runs commands', async () => {
    const redis = await connect({ REDIS_URL: `redis://127.0.0.1:${servers.standalone.port}` });
    const key = `t:${randomUUID()}`;
    await redis.set(key, 'v');
    expect(await redis.get(key)).toBe('v');
  });

  it('fails fast with RedisUnavailableError when nothing listens', async () => {
    const started = Date.now();
    await expect(connect({ REDIS_URL: 'redis://127.0.0.1:1' })).rejects.toBeInstanceOf(RedisUnavailableError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('authenticates as an ACL user with a password', async () => {
    await admin(servers.standalone.port, (c) => c.aclSetUser('cartapp', ['on', '>s3cret-pw', '~*', '+@all']));
    const redis = await connect({
      REDIS_URL: `redis://127.0.0.1:${servers.standalone.port}`,
      REDIS_AUTH: 'password',
      REDIS_USERNAME: 'cartapp',
      REDIS_PASSWORD: 's3cret-pw',
    });
    expect(await (redis as ReturnType<typeof import('redis').createClient>).aclWhoAmI()).toBe('cartapp');
  });

  it('refuses a wrong password', async () => {
    await expect(
      connect({
        REDIS_URL: `redis://127.0.0.1:${servers.standalone.port}`,
        REDIS_AUTH: 'password',
        REDIS_USERNAME: 'cartapp',
        REDIS_PASSWORD: 'wrong',
      }),
    ).rejects.toBeInstanceOf(RedisUnavailableError);
  });
});

describe('connectRedis (TLS)', () => {
  it('connects with certificate verification against the configured CA', async () => {
    const redis = await connect({
      REDIS_URL: `rediss://localhost:${servers.tls.port}`,
      REDIS_TLS_CA_FILE: servers.tls.caFile,
    });
    expect(await redis.ping()).toBe('PONG');
  });

  it('refuses a server whose certificate is signed by another CA', async () => {
    const err: unknown = await connect({
      REDIS_URL: `rediss://localhost:${servers.tls.port}`,
      REDIS_TLS_CA_FILE: servers.tls.wrongCaFile,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect(String((err as Error).cause)).toMatch(/certificate/i);
  });

  it('keeps verifying certificates when NODE_TLS_REJECT_UNAUTHORIZED=0 is in the environment', async () => {
    // The config refuses the variable; this proves the client does not depend on that: the TLS options
    // themselves say rejectUnauthorized, which the variable cannot override.
    const cfg = redisConfig({
      REDIS_URL: `rediss://localhost:${servers.tls.port}`,
      REDIS_TLS_CA_FILE: servers.tls.wrongCaFile,
    });
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      const err: unknown = await connectRedis(cfg, { logger: quiet }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect(String((err as Error).cause)).toMatch(/certificate/i);
    } finally {
      delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    }
  });

  it('refuses a self-signed chain when no CA is configured (verification stays on)', async () => {
    await expect(connect({ REDIS_URL: `rediss://localhost:${servers.tls.port}` })).rejects.toBeInstanceOf(
      RedisUnavailableError,
    );
  });
});

describe('connectRedis (cluster)', () => {
  it('routes keys to at least two shards', async () => {
    const [first] = servers.cluster.ports;
    await Promise.all(servers.cluster.ports.map((p) => admin(p, (c) => c.flushAll())));
    const redis = await connect({ REDIS_URL: `redis://127.0.0.1:${first}`, REDIS_CLUSTER: 'true' });
    expect(redis).toBeInstanceOf(RedisCluster);
    await Promise.all(Array.from({ length: 30 }, (_, i) => redis.set(`cart:${i}`, String(i))));
    const sizes = await Promise.all(servers.cluster.ports.map((p) => admin(p, (c) => c.dbSize())));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(30);
    expect(sizes.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
    expect(await redis.get('cart:7')).toBe('7');
  });

  it('speaks TLS to every shard, mapping advertised IPs back to the host name on the certificate', async () => {
    // The cluster's certificate names only "localhost", while shards advertise 127.0.0.1, as AMR
    // advertises IPs for a certificate that names its host: without the mapping, TLS checks fail.
    const [first] = servers.cluster.tlsPorts;
    const redis = await connect({
      REDIS_URL: `rediss://localhost:${first}`,
      REDIS_CLUSTER: 'true',
      REDIS_TLS_CA_FILE: servers.cluster.caFile,
    });
    await Promise.all(Array.from({ length: 30 }, (_, i) => redis.set(`tls:${i}`, String(i))));
    const values = await Promise.all(Array.from({ length: 30 }, (_, i) => redis.get(`tls:${i}`)));
    expect(values).toEqual(Array.from({ length: 30 }, (_, i) => String(i)));
    expect(redis instanceof RedisCluster && redis.masters.length).toBe(3);
  });
});

/** Issues short-lived JWT-shaped tokens for an ACL user and rotates that user's password to each one. */
class RotatingTestCredential implements TokenCredential {
  issued = 0;
  constructor(
    private readonly port: number,
    private readonly user: string,
    private readonly lifetimeMs: number,
  ) {}

  async getToken(): Promise<AccessToken> {
    this.issued += 1;
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const token = `${b64({ alg: 'none' })}.${b64({ oid: this.user, n: this.issued, r: randomUUID() })}.sig`;
    // Only the newest token is a valid password from now on, as with an expired Entra token.
    await admin(this.port, (c) => c.aclSetUser(this.user, ['on', 'resetpass', `>${token}`, '~*', '+@all']));
    return { token, expiresOnTimestamp: Date.now() + this.lifetimeMs };
  }
}

describe('connectRedis (Entra ID streaming credentials)', () => {
  it('re-authenticates as tokens rotate and no command fails, across a reconnect too', async () => {
    const user = 'entra-oid-1234';
    const credential = new RotatingTestCredential(servers.tls.adminPort, user, 1000);
    const redis = await connect(
      {
        REDIS_URL: `rediss://localhost:${servers.tls.port}`,
        REDIS_TLS_CA_FILE: servers.tls.caFile,
        REDIS_AUTH: 'entra',
      },
      { credential },
    );
    const key = `entra:${randomUUID()}`;
    let ok = 0;
    const until = Date.now() + 4500;
    let killed = false;
    while (Date.now() < until) {
      await redis.incr(key);
      ok += 1;
      if (!killed && Date.now() > until - 2000) {
        killed = true;
        // A fresh connection must log in with the current token, not the first one.
        await admin(servers.tls.adminPort, (c) => c.clientKill({ filter: 'USER', username: user }));
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await redis.get(key)).toBe(String(ok));
    expect(credential.issued).toBeGreaterThanOrEqual(4);
  });
});
