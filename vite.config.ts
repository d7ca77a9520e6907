// Builds the browser pages (web/) into dist/web with content-hashed asset names; the Function App serves
// them at /api/docs, /api/app and /api/assets/* (shared/web/assets.ts).
import { resolve } from 'node:path';

import { defineConfig } from 'vite';

const web = resolve(import.meta.dirname, 'web');

export default defineConfig({
  root: web,
  base: '/api/',
  logLevel: 'warn',
  build: {
    outDir: resolve(import.meta.dirname, 'dist', 'web'),
    // Not emptied: an app already serving from dist/web keeps finding its files while a build runs (old
    // hashed assets stay until dist/ is removed; nothing refers to them).
    emptyOutDir: false,
    assetsDir: 'assets',
    // Inlined data: URLs would need a looser Content-Security-Policy for fonts; images may stay inline.
    assetsInlineLimit: 0,
    // Swagger UI is one large module; splitting it would not make the reference page load faster.
    chunkSizeWarningLimit: 2_000,
    rolldownOptions: { input: { docs: resolve(web, 'docs.html'), app: resolve(web, 'app.html') } },
  },
});
