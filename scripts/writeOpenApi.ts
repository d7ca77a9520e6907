// Writes the OpenAPI document to a file (default .tmp/openapi.json) for linters and client generators.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { glob } from 'tinyglobby';

import { declaredRoutes } from '../shared/http/route.js';
import { openApiDocument } from '../shared/openapi.js';

// Every route is declared by its function file: load them all, as the host does. Outside the host,
// registering with app.http only prints a warning, which would say nothing here.
const warn = console.warn;
console.warn = () => undefined;
for (const file of await glob('functions/*.js', { cwd: join(import.meta.dirname, '..'), absolute: true })) {
  await import(pathToFileURL(file).href);
}
console.warn = warn;
const out = resolve(process.argv[2] ?? '.tmp/openapi.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(openApiDocument(declaredRoutes()), null, 2)}\n`);
console.log(`openapi: wrote ${out} (${declaredRoutes().length} operations)`);
