// A development OpenID issuer: a discovery document, a JWKS endpoint and real ES256-signed access tokens
// for a typed name, optionally with the admin role. A development tool for `npm start`, the demo and the
// tests; the deployed app never runs it (in Azure the issuer is Microsoft Entra External ID).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

/** What a test or the page may ask of a token. */
export interface TokenOptions {
  /** Seconds until `exp` (negative for an expired token); 3600 by default. */
  expiresIn?: number;
  /** Seconds until `nbf` (a token not valid yet). */
  notBefore?: number;
  audience?: string;
  issuer?: string;
}

/** A running development issuer. */
export interface DevIssuer {
  /** The issuer URL (what AUTH_ISSUER is set to). */
  url: string;
  /** How many times the key set was fetched. */
  readonly jwksFetches: number;
  /** A signed access token with these claims (`sub` and `roles` among them). */
  issue(claims: Record<string, unknown>, options?: TokenOptions): Promise<string>;
  /** A new signing key; the old one stays published (`keep`) or is withdrawn. */
  rotate(keep?: boolean): Promise<void>;
  stop(): Promise<void>;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function newKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

// The storefront (another origin: the app's) asks for tokens from the browser, so the issuer answers CORS.
// Any origin: it is a development tool on loopback, and its tokens are for whoever runs it.
const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST',
  'Access-Control-Allow-Headers': 'Content-Type',
  'Access-Control-Max-Age': '600',
};

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...CORS });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** Starts the issuer on loopback (`port` 0: a free one) for tokens with audience `audience`. */
export async function startDevIssuer(options: {
  audience: string;
  port?: number;
  adminRole?: string;
}): Promise<DevIssuer> {
  let keys = [await newKey()];
  let jwksFetches = 0;
  let url = '';
  const sign = (claims: Record<string, unknown>, o: TokenOptions = {}) => {
    const key = keys[0];
    if (!key) throw new Error('no signing key');
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' })
      .setIssuer(o.issuer ?? url)
      .setAudience(o.audience ?? options.audience)
      .setIssuedAt(now)
      .setExpirationTime(now + (o.expiresIn ?? 3600));
    if (o.notBefore !== undefined) jwt.setNotBefore(now + o.notBefore);
    return jwt.sign(key.privateKey);
  };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS).end();
    } else if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
      send(res, 200, { issuer: url, jwks_uri: `${url}/jwks`, token_endpoint: `${url}/token` });
    } else if (req.method === 'GET' && path === '/jwks') {
      jwksFetches++;
      send(res, 200, { keys: keys.map((k) => k.jwk) });
    } else if (req.method === 'POST' && path === '/token') {
      // The development sign-in: a name typed on the page, and whether to be an admin.
      void readJson(req).then(async (body) => {
        const name =
          typeof body.name === 'string' && body.name.trim() ? body.name.trim().slice(0, 64) : 'shopper';
        const roles = body.admin === true ? [options.adminRole ?? 'Cart.Admin'] : [];
        const [given = name, ...family] = name.split(/\s+/);
        const token = await sign({
          sub: `dev-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`,
          given_name: given,
          ...(family.length ? { family_name: family.join(' ') } : {}),
          roles,
        });
        send(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 3600 });
      });
    } else {
      send(res, 404, { error: 'not_found' });
    }
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', fail);
      ok();
    });
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    get jwksFetches() {
      return jwksFetches;
    },
    issue: sign,
    rotate: async (keep = true) => {
      const next = await newKey();
      keys = keep ? [next, ...keys] : [next];
    },
    stop: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
