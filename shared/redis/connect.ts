// Making one connection: TLS, cluster or not, password or Entra ID, reconnects, and the connect's own
// deadline. The worker's shared, lazily connected client is client.ts.
import { isIP } from 'node:net';

import type { TokenCredential } from '@azure/identity';
import { DefaultAzureCredential } from '@azure/identity';
import { EntraIdCredentialsProviderFactory, REDIS_SCOPE_DEFAULT } from '@redis/entraid';
import { type BasicClientSideCache, createClient, createCluster, RedisCluster } from 'redis';

import type { RedisConfig } from '../config.js';
import { ensureError, RedisUnavailableError } from '../errors.js';

/** A standalone node-redis client. */
export type RedisStandalone = ReturnType<typeof createClient>;
/** A node-redis cluster client (AMR's OSS clustering policy). */
export type RedisClusterClient = ReturnType<typeof createCluster>;
/** Either kind of connection; both expose the same data commands. */
export type Redis = RedisStandalone | RedisClusterClient;

/** Where the client reports what it cannot throw (background errors, re-auth failures). */
export interface RedisLogger {
  warn(message: string): void;
  error(message: string): void;
}

/** What a connection may be given instead of the defaults (tests pass a TokenCredential). */
export interface RedisDeps {
  credential?: TokenCredential;
  logger?: RedisLogger;
  /** Client-side caching (RESP3 tracking, RESP3 being node-redis 6's default): cacheable reads are cached. */
  clientSideCache?: BasicClientSideCache;
}

/** Where the client's own warnings go unless a logger is given. */
export const consoleLogger: RedisLogger = {
  warn: (m) => console.warn(m),
  error: (m) => console.error(m),
};

/** Exponential backoff capped at `maxMs` (3 s) with jitter, so many workers do not reconnect in lockstep. */
export function reconnectDelay(retries: number, maxMs = 3000): number {
  const cap = Math.min(100 * 2 ** Math.min(retries, 10), maxMs);
  return Math.round(cap / 2 + Math.random() * (cap / 2));
}

// A cluster node that is gone may have been replaced by a promoted replica: its client's reconnection
// attempts are what make node-redis look at the topology again (at most every TOPOLOGY_REFRESH_MS while a
// node is lost; its default waits 5 s), so they are kept frequent. Service then resumes within about a
// second of the cluster being healthy again instead of after the whole backoff.
const CLUSTER_NODE_RECONNECT_MAX_MS = 500;
const TOPOLOGY_REFRESH_MS = 250;

function credentialsFor(cfg: RedisConfig, deps: RedisDeps, logger: RedisLogger) {
  const auth = cfg.auth;
  if (auth.mode === 'password') return { username: auth.username, password: auth.password };
  if (auth.mode === 'none') return {};
  const credential =
    deps.credential ??
    new DefaultAzureCredential(auth.clientId ? { managedIdentityClientId: auth.clientId } : undefined);
  const credentialsProvider = EntraIdCredentialsProviderFactory.createForDefaultAzureCredential({
    credential,
    scopes: REDIS_SCOPE_DEFAULT,
    tokenManagerConfig: {
      // Renew at 70% of the token's life: leaves time for retries before the server sees it expire.
      expirationRefreshRatio: 0.7,
      retry: {
        maxAttempts: 8,
        initialDelayMs: 200,
        maxDelayMs: 30_000,
        backoffMultiplier: 2,
        jitterPercentage: 0.2,
        // The package's default only retries MSAL network errors; Azure Identity raises its own types,
        // and a transient IMDS or token-endpoint failure must not cost us the connection.
        isRetryable: () => true,
      },
    },
    onReAuthenticationError: (e) => logger.error(`Redis re-authentication failed: ${ensureError(e).message}`),
    onRetryableError: (e) => logger.warn(`Redis token refresh will be retried: ${e}`),
  });
  return { credentialsProvider };
}

function socketFor(cfg: RedisConfig, isReady: () => boolean, startedAt: number, maxDelayMs = 3000) {
  return {
    connectTimeout: cfg.connectTimeoutMs,
    keepAlive: true,
    reconnectStrategy: (retries: number, cause: Error) => {
      // Before the first successful connect, give up after a few quick tries so the caller gets a
      // 503 at once instead of a request that waits; afterwards, keep trying for as long as it takes.
      if (!isReady() && (retries >= 2 || Date.now() - startedAt >= cfg.connectTimeoutMs)) return cause;
      return reconnectDelay(retries, maxDelayMs);
    },
    ...(cfg.tls
      ? {
          tls: true as const,
          // Explicit, so that NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment cannot turn it off.
          rejectUnauthorized: true,
          // node-redis sends no SNI by itself; proxies and AMR need it. RFC 6066 forbids IPs here.
          ...(isIP(cfg.host) ? {} : { servername: cfg.host }),
          ...(cfg.ca ? { ca: cfg.ca } : {}),
        }
      : {}),
  };
}

/** Maps a cluster node's advertised "ip:port" to the configured host name, so TLS name checks pass. */
export function mapNodeAddress(
  cfg: RedisConfig,
): ((address: string) => { host: string; port: number } | undefined) | undefined {
  if (!cfg.tls) return undefined;
  return (address: string) => {
    const at = address.lastIndexOf(':');
    const host = address.slice(0, at).replace(/^\[(.*)\]$/, '$1');
    const port = Number(address.slice(at + 1));
    // Only IPs are rewritten: a node that advertises a name is trusted to present a certificate for it.
    return isIP(host) ? { host: cfg.host, port } : undefined;
  };
}

/** Creates a client (standalone or cluster) from config, without connecting it. */
export function createRedis(cfg: RedisConfig, deps: RedisDeps = {}): { redis: Redis; markReady: () => void } {
  const logger = deps.logger ?? consoleLogger;
  let ready = false;
  const startedAt = Date.now();
  const socket = socketFor(
    cfg,
    () => ready,
    startedAt,
    cfg.cluster ? CLUSTER_NODE_RECONNECT_MAX_MS : undefined,
  );
  // Commands issued while disconnected fail at once (ClientOfflineError -> 503) instead of queueing.
  // No per-command timeout: node-redis would arm an AbortSignal timer for every command (a third of the
  // throughput in `npm run bench:cart`), and it stops counting once a command is written anyway. The
  // watchdog (watchdog.ts) bounds waits on a stalled connection instead.
  const perConnection = {
    ...credentialsFor(cfg, deps, logger),
    pingInterval: cfg.pingIntervalMs,
    disableOfflineQueue: true,
  };
  const commandOptions = { timeout: 0 };

  const cache = deps.clientSideCache ? { clientSideCache: deps.clientSideCache } : {};
  const redis: Redis = cfg.cluster
    ? createCluster({
        rootNodes: [{ socket: { host: cfg.host, port: cfg.port } }],
        // Node connections inherit nothing from rootNodes: TLS, credentials and pings go here.
        defaults: { ...perConnection, socket },
        nodeAddressMap: mapNodeAddress(cfg),
        topologyRefreshOnReconnectionAttemptStrategy: TOPOLOGY_REFRESH_MS,
        commandOptions,
        ...cache,
      })
    : createClient({
        ...perConnection,
        socket: { ...socket, host: cfg.host, port: cfg.port },
        commandOptions,
        ...cache,
      });

  redis.on('error', (err: unknown) => {
    // Without a listener an 'error' event crashes the worker; reconnects are handled by the strategy.
    logger.warn(`Redis client error: ${ensureError(err).message}`);
  });
  return { redis, markReady: () => (ready = true) };
}

/** Creates and connects a client, failing with RedisUnavailableError after the connect timeout. */
export async function connectRedis(cfg: RedisConfig, deps: RedisDeps = {}): Promise<Redis> {
  const { redis, markReady } = createRedis(cfg, deps);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new RedisUnavailableError(
            `Redis at ${cfg.host}:${cfg.port} not ready within ${cfg.connectTimeoutMs} ms`,
          ),
        ),
      cfg.connectTimeoutMs + 500,
    );
  });
  const connecting = redis.connect();
  try {
    await Promise.race([connecting, deadline]);
    markReady();
    return redis;
  } catch (err) {
    connecting.catch(() => undefined);
    redis.destroy();
    const e = ensureError(err);
    throw e instanceof RedisUnavailableError
      ? e
      : new RedisUnavailableError(`Redis at ${cfg.host}:${cfg.port} unreachable: ${e.message}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
}

/** Sends PING to every primary (one for a standalone server) and resolves when all have answered. */
export async function pingAll(redis: Redis): Promise<void> {
  if (redis instanceof RedisCluster) {
    await Promise.all(redis.masters.map(async (node) => (await redis.nodeClient(node)).ping()));
  } else {
    await redis.ping();
  }
}
