// Bearer tokens verified in the app with `jose`, the same way locally and in Azure (App Service
// Authentication is not something to rely on for Flex Consumption, and `x-ms-client-principal*` headers are
// never read: anyone can send them). Issuer and audience come from the settings, the signing keys from the
// issuer's discovery document; asymmetric algorithms only, `exp` required, `exp`/`nbf` with a bounded skew.
import { createHash } from 'node:crypto';

import { createRemoteJWKSet, errors as jose, type JWTPayload, jwtVerify } from 'jose';

import { type AuthConfig, getConfig } from '../config.js';
import { errors } from '../errors.js';
import { ID_PATTERN } from '../ids.js';

/** Who a verified token speaks for. */
export interface Principal {
  /** The shopper's user id: `oid` (Microsoft Entra) or `sub`, mapped into the id alphabet. */
  userId: string;
  roles: string[];
  admin: boolean;
  givenName: string | undefined;
  familyName: string | undefined;
  email: string | undefined;
}

// Never `none`, never an HMAC (a public key must not become a shared secret).
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
// Longer than any real access token: a larger header is refused before any parsing.
const MAX_TOKEN_CHARS = 8192;
// Keys are refreshed in the background this often; when the issuer is down the last keys stay in use.
const REFRESH_MS = 10 * 60_000;

type KeySet = ReturnType<typeof createRemoteJWKSet>;
let keySet: Promise<{ keys: KeySet; refreshedAt: number }> | undefined;

/** The key fetch failed (as opposed to a token that names no key): 503, never 401. */
class KeySourceError extends Error {
  override name = 'KeySourceError';
}

function deadlineMs(): number {
  return getConfig().redis.deadlineMs || 2000;
}

/** Reads the issuer's discovery document: the key set's URL, after checking the document is the issuer's. */
async function jwksUri(cfg: AuthConfig): Promise<URL> {
  const base = cfg.issuer.endsWith('/') ? cfg.issuer : `${cfg.issuer}/`;
  const res = await fetch(new URL('.well-known/openid-configuration', base), {
    signal: AbortSignal.timeout(deadlineMs()),
    redirect: 'error',
  });
  if (!res.ok) throw new KeySourceError(`discovery answered ${res.status}`);
  const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (doc.issuer !== cfg.issuer || typeof doc.jwks_uri !== 'string') {
    throw new KeySourceError('the discovery document is not this issuer');
  }
  return new URL(doc.jwks_uri);
}

async function theKeys(cfg: AuthConfig): Promise<{ keys: KeySet; refreshedAt: number }> {
  keySet ??= jwksUri(cfg).then(
    (uri) => ({
      keys: createRemoteJWKSet(uri, {
        // An unknown kid refetches at most this often: a flood of made-up kids is not a flood of fetches.
        cooldownDuration: cfg.jwksCooldownMs,
        // Never stale by age alone: refreshed in the background instead, so an issuer outage does not
        // stop tokens signed with keys already known.
        cacheMaxAge: Number.POSITIVE_INFINITY,
        timeoutDuration: deadlineMs(),
      }),
      refreshedAt: Date.now(),
    }),
    (err: unknown) => {
      keySet = undefined;
      throw new KeySourceError('discovery failed', { cause: err });
    },
  );
  const set = await keySet;
  if (Date.now() - set.refreshedAt > REFRESH_MS) {
    set.refreshedAt = Date.now();
    set.keys.reload().catch(() => undefined);
  }
  return set;
}

/** The token of an `Authorization: Bearer ...` header; 401 when absent or malformed. */
function bearerToken(header: string | null): string {
  if (header === null || header.trim() === '') throw errors.unauthorized();
  const match = /^Bearer +([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim());
  if (!match?.[1] || match[1].length > MAX_TOKEN_CHARS) throw errors.unauthorized('malformed bearer token');
  return match[1];
}

/**
 * The user id of a subject: used as it is when it fits the id alphabet, else mapped deterministically to
 * `h` + the first 43 characters of the base64url SHA-256 of it (still in the alphabet, 44 characters).
 */
export function userIdOf(subject: string): string {
  if (ID_PATTERN.test(subject)) return subject;
  return `h${createHash('sha256').update(subject).digest('base64url').slice(0, 43)}`;
}

const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

function principalOf(payload: JWTPayload, cfg: AuthConfig): Principal {
  const subject = text(payload.oid) ?? text(payload.sub);
  if (!subject) throw errors.unauthorized('no subject');
  const roles = Array.isArray(payload.roles)
    ? payload.roles.filter((r): r is string => typeof r === 'string')
    : [];
  return {
    userId: userIdOf(subject),
    roles,
    admin: roles.includes(cfg.adminRole),
    givenName: text(payload.given_name),
    familyName: text(payload.family_name),
    email: text(payload.email),
  };
}

/**
 * Verifies the request's bearer token: 401 (with a `WWW-Authenticate` challenge) when it is missing or bad,
 * 503 when a key it needs cannot be fetched within the deadline, 501 when sign-in is not configured.
 */
export async function verifyBearer(authorization: string | null): Promise<Principal> {
  const cfg = getConfig().auth;
  if (!cfg) throw errors.signInNotConfigured();
  const token = bearerToken(authorization);
  let keys: KeySet;
  try {
    ({ keys } = await theKeys(cfg));
  } catch {
    throw errors.authUnavailable();
  }
  try {
    const { payload } = await jwtVerify(
      token,
      async (header, input) => {
        try {
          return await keys(header, input);
        } catch (err) {
          // A key set without the token's kid is the token's fault; a fetch that failed is not.
          if (err instanceof jose.JWKSNoMatchingKey || err instanceof jose.JWKSMultipleMatchingKeys)
            throw err;
          throw new KeySourceError('the key set could not be fetched', { cause: err });
        }
      },
      {
        issuer: cfg.issuer,
        audience: cfg.audience,
        algorithms: ALGORITHMS,
        clockTolerance: cfg.clockSkewSeconds,
        requiredClaims: ['exp'],
      },
    );
    return principalOf(payload, cfg);
  } catch (err) {
    if (err instanceof KeySourceError) throw errors.authUnavailable();
    if (err instanceof jose.JOSEError) throw errors.unauthorized(describe(err));
    throw err;
  }
}

function describe(err: InstanceType<typeof jose.JOSEError>): string {
  if (err instanceof jose.JWTExpired) return 'expired';
  if (err instanceof jose.JWTClaimValidationFailed) return `claim ${err.claim} ${err.reason}`;
  if (err instanceof jose.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (err instanceof jose.JWKSNoMatchingKey) return 'signed with an unknown key';
  if (err instanceof jose.JWSSignatureVerificationFailed) return 'signature does not verify';
  return 'malformed';
}
