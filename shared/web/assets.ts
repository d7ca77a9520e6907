// The browser pages (/api/docs, /api/app) and their static files, built by Vite into dist/web: read once per
// worker and served with their content types, caching rules and a strict Content-Security-Policy.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';

import type { HttpResponseInit } from '@azure/functions';

import { signInOrigin } from '../auth/signIn.js';
import { errors } from '../errors.js';
import { PAGE_SECURITY_HEADERS, pageSecurityHeaders } from '../http/security.js';

// Compiled, this module is dist/shared/web/assets.js; Vite writes the pages to dist/web.
const WEB_DIR = resolve(import.meta.dirname, '..', '..', 'web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

const SECURITY_HEADERS = PAGE_SECURITY_HEADERS;

interface WebFile {
  body: Buffer;
  type: string;
}

let files: Map<string, WebFile> | undefined;

function load(): Map<string, WebFile> {
  if (files) return files;
  const found = new Map<string, WebFile>();
  for (const dir of ['', 'assets']) {
    const full = join(WEB_DIR, dir);
    if (!existsSync(full)) continue;
    for (const entry of readdirSync(full, { withFileTypes: true })) {
      const type = TYPES[extname(entry.name)];
      if (!entry.isFile() || !type) continue;
      found.set(dir ? `${dir}/${entry.name}` : entry.name, {
        body: readFileSync(join(full, entry.name)),
        type,
      });
    }
  }
  files = found;
  return found;
}

/**
 * A page: revalidated on every visit (`no-cache`), so a deployment shows at once. Asked for with a
 * trailing slash (`/api/app/`, which the host routes here too) it is a permanent redirect to its canonical
 * URL, since the page resolves its calls relative to its own.
 */
export function page(name: 'docs' | 'app', url: URL): HttpResponseInit {
  if (url.pathname.endsWith('/')) {
    const canonical = url.pathname.replace(/\/+$/, '');
    return { status: 308, headers: { Location: `${canonical}${url.search}`, 'Cache-Control': 'no-cache' } };
  }
  const file = load().get(`${name}.html`);
  if (!file) throw errors.assetNotFound(`page ${name}`);
  return {
    status: 200,
    body: file.body,
    headers: {
      'Content-Type': file.type,
      'Cache-Control': 'no-cache',
      // The storefront may reach its sign-in's origin too; the reference page nothing but its own.
      ...(name === 'app' ? pageSecurityHeaders(signInOrigin()) : SECURITY_HEADERS),
    },
  };
}

/** A content-hashed static file: its name changes with its content, so it is cached for a year. */
export function asset(name: string): HttpResponseInit {
  // Only names found in dist/web/assets at start-up are served: no path is ever built from the request.
  const file = load().get(`assets/${name}`);
  if (!file) throw errors.assetNotFound(`file ${name}`);
  return {
    status: 200,
    body: file.body,
    headers: {
      'Content-Type': file.type,
      'Cache-Control': 'public, max-age=31536000, immutable',
      ...SECURITY_HEADERS,
    },
  };
}
