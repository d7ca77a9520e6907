import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';

import { z } from 'zod';

import { ensureError } from './errors.js';
import { wholeNumber } from './params.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveInt = (max: number) => wholeNumber(1, max);

const redisUrl = z.string().transform((s, ctx) => {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a URL such as redis://127.0.0.1:6379' });
    return z.NEVER;
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    ctx.addIssue({ code: 'custom', message: 'must start with redis:// or rediss://' });
    return z.NEVER;
  }
  if (url.username || url.password) {
    // Secrets in a URL end up in logs and portal screenshots; they have their own settings.
    ctx.addIssue({
      code: 'custom',
      message: 'must not contain credentials; use REDIS_USERNAME/REDIS_PASSWORD',
    });
    return z.NEVER;
  }
  return url;
});

const EnvSchema = z.object({
  REDIS_URL: redisUrl.prefault('redis://127.0.0.1:6379'),
  REDIS_HOST: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/, { error: 'must be a host name' })
    .optional(),
  REDIS_PORT: positiveInt(65535).default(10000),
  REDIS_CLUSTER: bool.default(false),
  REDIS_AUTH: z.enum(['none', 'password', 'entra']).default('none'),
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  AZURE_CLIENT_ID: z.string().min(1).optional(),
  REDIS_TLS_CA_FILE: z.string().min(1).optional(),
  REDIS_CONNECT_TIMEOUT_MS: positiveInt(60_000).default(3000),
  REDIS_DEADLINE_MS: wholeNumber(0, 60_000).default(2000),
  REDIS_PING_INTERVAL_MS: positiveInt(540_000).default(60_000),
  REDIS_RETRY_AFTER_SECONDS: positiveInt(3600).default(5),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,32}$/, { error: 'must be 1-32 characters of A-Z a-z 0-9 _ . : -' })
    .optional(),
  CART_TTL_DAYS: positiveInt(3650).default(30),
  GUEST_CART_TTL_DAYS: positiveInt(3650).default(7),
  SKU_CACHE_MAX_ENTRIES: wholeNumber(0, 10_000_000).default(10_000),
  SKU_CACHE_TTL_SECONDS: positiveInt(86_400).default(300),
  MAX_LINE_QUANTITY: positiveInt(1_000_000).default(999),
  MAX_BODY_BYTES: positiveInt(1_048_576).default(16_384),
  BIGLIST_STALL_SECONDS: positiveInt(86_400).default(60),
  BIGLIST_WRITE_MODE: z.enum(['auto', 'restore', 'lpush']).default('auto'),
  // The Functions host's own storage setting: a connection string locally, or identity-based in Azure.
  AzureWebJobsStorage: z.string().min(1).optional(),
  AzureWebJobsStorage__queueServiceUri: z.url({ protocol: /^https?$/ }).optional(),
  AzureWebJobsStorage__accountName: z
    .string()
    .regex(/^[a-z0-9]{3,24}$/, { error: 'must be a storage account name' })
    .optional(),
  AzureWebJobsStorage__clientId: z.string().min(1).optional(),
  // Sign-in (OpenID Connect): the issuer whose tokens the app accepts, and the audience they must name.
  AUTH_ISSUER: z.url({ protocol: /^https?$/, error: 'must be the issuer URL (https://...)' }).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  AUTH_ADMIN_ROLE: z.string().min(1).default('Cart.Admin'),
  AUTH_CLOCK_SKEW_SECONDS: wholeNumber(0, 300).default(60),
  AUTH_JWKS_COOLDOWN_SECONDS: positiveInt(3600).default(30),
  AUTH_CLIENT_ID: z.string().min(1).optional(),
  AUTH_AUTHORITY: z
    .url({ protocol: /^https$/, error: 'must be the sign-in authority URL (https://...)' })
    .optional(),
  AUTH_SCOPES: z.string().min(1).optional(),
});

/** Authentication settings for the Redis connection. */
export type RedisAuth =
  | { mode: 'none' }
  | { mode: 'password'; username: string; password: string }
  | { mode: 'entra'; clientId: string | undefined };

/** Everything the Redis client needs, already validated. */
export interface RedisConfig {
  host: string;
  port: number;
  tls: boolean;
  /** PEM CA certificates to trust instead of the system store; undefined means the system store. */
  ca: string | undefined;
  cluster: boolean;
  auth: RedisAuth;
  connectTimeoutMs: number;
  /** Longest wait on Redis (a reply, or a connect in progress) before 503; 0 turns the watchdog off. */
  deadlineMs: number;
  pingIntervalMs: number;
}

/** How the app reaches the Storage queues: the host's connection string, or an endpoint and an identity. */
export type StorageConfig =
  | { mode: 'connectionString'; connectionString: string }
  | { mode: 'identity'; queueServiceUri: string; clientId: string | undefined }
  | { mode: 'none' };

/** Sign-in: tokens are verified in the app against this issuer's keys; undefined when sign-in is off. */
export interface AuthConfig {
  issuer: string;
  audience: string;
  adminRole: string;
  clockSkewSeconds: number;
  /** An unknown key id refetches the issuer's key set at most this often. */
  jwksCooldownMs: number;
  /**
   * How the storefront signs shoppers in: with MSAL against `authority` for the SPA app registration
   * `clientId` (Microsoft Entra External ID), or with the development issuer when the issuer is on this
   * machine and no client id is set; undefined: the page cannot sign in (the API still verifies tokens).
   */
  page:
    | { mode: 'entra'; clientId: string; authority: string; scopes: string[] }
    | { mode: 'development'; tokenEndpoint: string }
    | undefined;
}

/** The application's settings. */
export interface AppConfig {
  redis: RedisConfig;
  retryAfterSeconds: number;
  /** Prepended to every key (e.g. "shop1:"); empty by default so keys match the classic demos. */
  keyPrefix: string;
  cartTtlSeconds: number;
  /** How long a guest cart lives after its last write (and a merged one is remembered). */
  guestCartTtlSeconds: number;
  /**
   * The client-side cache of SKUs that cart reads price from (RESP3 tracking, invalidated by the server):
   * at most `maxEntries` SKUs (0, the default: no cache), each kept at most `ttlMs` as a backstop.
   */
  skuCache: { maxEntries: number; ttlMs: number };
  maxLineQuantity: number;
  maxBodyBytes: number;
  /** A load with no finished segment for this long is failed and frees the loader. */
  biglistStallMs: number;
  /** How segments are written: RESTORE (verified first in auto, falling back to LPUSH) or LPUSH only. */
  biglistWriteMode: 'auto' | 'restore' | 'lpush';
  storage: StorageConfig;
  auth: AuthConfig | undefined;
}

/** True for a host name or address that never leaves this machine. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  return /^::ffff:127\./.test(h);
}

/** A missing or invalid setting; the message names the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses settings from an environment map; throws ConfigError naming each bad variable. */
export function parseConfig(env: NodeJS.ProcessEnv): AppConfig {
  const raw = Object.fromEntries(
    Object.keys(EnvSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const parsed = EnvSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${String(i.path[0] ?? '?')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration: ${lines.join('; ')}`);
  }
  const e = parsed.data;

  const host = e.REDIS_HOST ?? e.REDIS_URL.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = e.REDIS_HOST ? e.REDIS_PORT : Number(e.REDIS_URL.port || 6379);
  // A bare host name is how Azure settings name AMR, which only speaks TLS.
  const tls = e.REDIS_HOST ? true : e.REDIS_URL.protocol === 'rediss:';

  // Node reads this variable for every TLS connection it makes (Redis, Entra ID, storage); a reference
  // app must not run with certificate checks off, so it refuses instead of silently obeying.
  if (env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    throw new ConfigError(
      'Invalid configuration: NODE_TLS_REJECT_UNAUTHORIZED: certificate verification cannot be turned off; trust a private CA with REDIS_TLS_CA_FILE or NODE_EXTRA_CA_CERTS instead',
    );
  }

  let auth: RedisAuth;
  switch (e.REDIS_AUTH) {
    case 'none':
      auth = { mode: 'none' };
      break;
    case 'password':
      if (!e.REDIS_PASSWORD)
        throw new ConfigError('Invalid configuration: REDIS_PASSWORD: required when REDIS_AUTH=password');
      // A password sent in clear text over a network can be read by anyone on the path.
      if (!tls && !isLoopback(host))
        throw new ConfigError(
          'Invalid configuration: REDIS_AUTH: password needs TLS (a rediss:// REDIS_URL or REDIS_HOST) unless Redis is on this machine',
        );
      auth = { mode: 'password', username: e.REDIS_USERNAME ?? 'default', password: e.REDIS_PASSWORD };
      break;
    case 'entra':
      if (!tls)
        throw new ConfigError(
          'Invalid configuration: REDIS_AUTH: entra needs TLS (a rediss:// REDIS_URL or REDIS_HOST)',
        );
      auth = { mode: 'entra', clientId: e.AZURE_CLIENT_ID };
      break;
  }

  let ca: string | undefined;
  if (e.REDIS_TLS_CA_FILE) {
    try {
      ca = readFileSync(e.REDIS_TLS_CA_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `Invalid configuration: REDIS_TLS_CA_FILE: cannot read ${e.REDIS_TLS_CA_FILE} (${ensureError(err).message})`,
      );
    }
  }

  return {
    redis: {
      host,
      port,
      tls,
      ca,
      cluster: e.REDIS_CLUSTER,
      auth,
      connectTimeoutMs: e.REDIS_CONNECT_TIMEOUT_MS,
      deadlineMs: e.REDIS_DEADLINE_MS,
      pingIntervalMs: e.REDIS_PING_INTERVAL_MS,
    },
    retryAfterSeconds: e.REDIS_RETRY_AFTER_SECONDS,
    keyPrefix: e.REDIS_KEY_PREFIX ?? '',
    cartTtlSeconds: e.CART_TTL_DAYS * 86_400,
    guestCartTtlSeconds: e.GUEST_CART_TTL_DAYS * 86_400,
    skuCache: { maxEntries: e.SKU_CACHE_MAX_ENTRIES, ttlMs: e.SKU_CACHE_TTL_SECONDS * 1000 },
    maxLineQuantity: e.MAX_LINE_QUANTITY,
    maxBodyBytes: e.MAX_BODY_BYTES,
    biglistStallMs: e.BIGLIST_STALL_SECONDS * 1000,
    biglistWriteMode: e.BIGLIST_WRITE_MODE,
    storage: storageFrom(e),
    auth: authFrom(e),
  };
}

function authFrom(e: z.output<typeof EnvSchema>): AuthConfig | undefined {
  if (!e.AUTH_ISSUER) return undefined;
  if (!e.AUTH_AUDIENCE) {
    throw new ConfigError('Invalid configuration: AUTH_AUDIENCE: required when AUTH_ISSUER is set');
  }
  const issuer = new URL(e.AUTH_ISSUER);
  // Tokens travel to and keys come from the issuer: plain HTTP only for a development issuer on this machine.
  const local = isLoopback(issuer.hostname.replace(/^\[(.*)\]$/, '$1'));
  if (issuer.protocol !== 'https:' && !local) {
    throw new ConfigError('Invalid configuration: AUTH_ISSUER: must be https:// (http only on loopback)');
  }
  return {
    issuer: e.AUTH_ISSUER,
    audience: e.AUTH_AUDIENCE,
    adminRole: e.AUTH_ADMIN_ROLE,
    clockSkewSeconds: e.AUTH_CLOCK_SKEW_SECONDS,
    jwksCooldownMs: e.AUTH_JWKS_COOLDOWN_SECONDS * 1000,
    page: e.AUTH_CLIENT_ID
      ? {
          mode: 'entra',
          clientId: e.AUTH_CLIENT_ID,
          // Entra External ID issues as https://<tenant>.ciamlogin.com/<tenant>/v2.0 and signs in at that
          // URL without /v2.0; another authority is set explicitly.
          authority: e.AUTH_AUTHORITY ?? e.AUTH_ISSUER.replace(/\/v2\.0\/?$/, ''),
          scopes: (e.AUTH_SCOPES ?? `${e.AUTH_AUDIENCE}/.default`).split(/\s+/).filter(Boolean),
        }
      : local
        ? {
            mode: 'development',
            tokenEndpoint: new URL('token', `${e.AUTH_ISSUER.replace(/\/+$/, '')}/`).href,
          }
        : undefined,
  };
}

function storageFrom(e: z.output<typeof EnvSchema>): StorageConfig {
  if (e.AzureWebJobsStorage) return { mode: 'connectionString', connectionString: e.AzureWebJobsStorage };
  const uri =
    e.AzureWebJobsStorage__queueServiceUri ??
    (e.AzureWebJobsStorage__accountName
      ? `https://${e.AzureWebJobsStorage__accountName}.queue.core.windows.net`
      : undefined);
  if (uri) return { mode: 'identity', queueServiceUri: uri, clientId: e.AzureWebJobsStorage__clientId };
  return { mode: 'none' };
}

/** Where telemetry goes and what it records (OTEL_*, APPLICATIONINSIGHTS_*, REDIS_TELEMETRY). */
export interface TelemetryConfig {
  /** Application Insights, with the authentication string (`Authorization=AAD;ClientId=...`) or ''. */
  appInsights: { connectionString: string; authentication: string } | undefined;
  /** An OTLP endpoint or a console exporter is set: the SDK builds its exporters from OTEL_* itself. */
  otelExporters: boolean;
  serviceName: string;
  /** The ratio of successful traces kept (OTEL_TRACES_SAMPLER_ARG, 0 to 1; anything else keeps all). */
  successRatio: number;
  redisSpans: boolean;
  redisMetrics: boolean;
  /** On Azure (WEBSITE_INSTANCE_ID) the host records each invocation itself. */
  hostRecordsInvocations: boolean;
}

/** The ratio of successful traces to keep, from OTEL_TRACES_SAMPLER_ARG (default 1: all). */
export function successRatio(env: NodeJS.ProcessEnv): number {
  const ratio = Number(env.OTEL_TRACES_SAMPLER_ARG ?? '1');
  return Number.isFinite(ratio) && ratio >= 0 && ratio <= 1 ? ratio : 1;
}

/**
 * The telemetry settings. Parsed apart from the rest and leniently (an unknown REDIS_TELEMETRY is off), so
 * that telemetry starts, and reports, even when another setting is wrong.
 */
export function parseTelemetryConfig(env: NodeJS.ProcessEnv): TelemetryConfig {
  const redis = env.REDIS_TELEMETRY ?? 'off';
  return {
    appInsights: env.APPLICATIONINSIGHTS_CONNECTION_STRING
      ? {
          connectionString: env.APPLICATIONINSIGHTS_CONNECTION_STRING,
          authentication: env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING ?? '',
        }
      : undefined,
    otelExporters: Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_TRACES_EXPORTER),
    serviceName: env.OTEL_SERVICE_NAME ?? 'azure-redis-cart',
    successRatio: successRatio(env),
    redisSpans: redis === 'on' || redis === 'spans',
    redisMetrics: redis === 'on' || redis === 'metrics',
    hostRecordsInvocations: Boolean(env.WEBSITE_INSTANCE_ID),
  };
}

let cached: AppConfig | undefined;
let cachedTelemetry: TelemetryConfig | undefined;

/** The telemetry settings, parsed from process.env on first use and then frozen. */
export function getTelemetryConfig(): TelemetryConfig {
  cachedTelemetry ??= Object.freeze(parseTelemetryConfig(process.env));
  return cachedTelemetry;
}

/** The process-wide settings, parsed from process.env on first use and then frozen. */
export function getConfig(): AppConfig {
  cached ??= Object.freeze(parseConfig(process.env));
  return cached;
}
