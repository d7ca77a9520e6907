// Writes the OpenAPI document to a file (default .tmp/openapi.json) for linters and client generators.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { openApiDocument } from '../shared/openapi.js';

const out = resolve(process.argv[2] ?? '.tmp/openapi.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(openApiDocument(), null, 2)}\n`);
console.log(`openapi: wrote ${out}`);
