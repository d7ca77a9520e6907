// Benchmark: what sign-in costs. In one process, against a local redis-server and the development issuer:
// token verification alone (ES256, keys cached), and a 20-line cart read through the handlers as the
// signed-in shopper (`GET /api/me/cart`) and as the admin role (`GET /api/carts/{userId}`, which verifies a
// token too), for the same cart; the variants alternate in short blocks so the machine's drift cancels out.
// Reproduce with: npm run bench:auth
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import functions, { type HttpHandler, type HttpResponseInit } from '@azure/functions';

import { startDevIssuer } from '../scripts/devIssuer.js';
import { freePort, startRedis } from '../scripts/localServices.js';
import { printTable } from './support.js';

const CONCURRENCY = 16;
const BLOCKS = Number(process.env.BENCH_BLOCKS ?? 20);
const BLOCK_MS = 250;
const LINES = 20;

const port = await freePort();
const redis = await startRedis(port, mkdtempSync(join(tmpdir(), 'bench-auth-')));
const issuer = await startDevIssuer({ audience: 'api://bench' });
process.env.REDIS_URL = `redis://127.0.0.1:${port}`;
process.env.AUTH_ISSUER = issuer.url;
process.env.AUTH_AUDIENCE = 'api://bench';
const { HttpRequest, InvocationContext } = functions;
// The handlers register with app.http at import; outside the host that only prints a warning.
const warn = console.warn;
console.warn = () => undefined;
const { getCart } = await import('../functions/carts.js');
const { getMyCart } = await import('../functions/me.js');
const { verifyBearer } = await import('../shared/auth/verify.js');
const { getRedis, closeRedis } = await import('../shared/redis/client.js');
console.warn = warn;

const shopper = `Bearer ${await issuer.issue({ sub: 'bench', given_name: 'Bench' })}`;
const adminToken = `Bearer ${await issuer.issue({ sub: 'ops', roles: ['Cart.Admin'] })}`;
const context = new InvocationContext({ functionName: 'bench', logHandler: () => undefined });
const call = async (handler: HttpHandler, path: string, params: Record<string, string>, auth: string) => {
  const request = new HttpRequest({
    method: 'GET',
    url: `http://127.0.0.1/api${path}`,
    params,
    headers: { authorization: auth },
  });
  const res = (await handler(request, context)) as HttpResponseInit;
  if (res.status !== 200) throw new Error(`GET ${path} answered ${String(res.status)}`);
};

// The shopper's profile and a 20-line cart, made through the app itself.
await call(getMyCart, '/me/cart', {}, shopper);
const seed = await getRedis();
for (let i = 0; i < LINES; i++) {
  const sku = `bench-sku-${String(i).padStart(2, '0')}`;
  await seed.hSet(`sku:${sku}`, { name: `Item ${i}`, price: `${i + 1}.99` });
  await seed.hSet('cart:bench', sku, '1');
}

const variants: Record<string, () => Promise<unknown>> = {
  'verify a token (ES256, key cached)': () => verifyBearer(shopper),
  'GET /api/carts/{userId} (admin token)': () =>
    call(getCart, '/carts/bench', { userId: 'bench' }, adminToken),
  'GET /api/me/cart (shopper token)': () => call(getMyCart, '/me/cart', {}, shopper),
};

const totals = Object.fromEntries(Object.keys(variants).map((k) => [k, { ops: 0, cpuUs: 0, ms: 0 }]));
const block = async (name: string) => {
  const op = variants[name];
  if (!op) return;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const end = started + BLOCK_MS;
  let ops = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        await op();
        ops++;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  const t = totals[name];
  if (t) {
    t.ops += ops;
    t.cpuUs += used.user + used.system;
    t.ms += performance.now() - started;
  }
};

for (const name of Object.keys(variants)) await block(name); // warm-up
for (const t of Object.values(totals)) Object.assign(t, { ops: 0, cpuUs: 0, ms: 0 });
const names = Object.keys(variants);
for (let b = 0; b < BLOCKS; b++) {
  for (const name of b % 2 ? [...names].reverse() : names) await block(name);
}

const row = (name: string) => totals[name] ?? { ops: 0, cpuUs: 0, ms: 1 };
const admin = row('GET /api/carts/{userId} (admin token)');
const adminOps = admin.ops / (admin.ms / 1000);
console.log(
  `\nconcurrency ${CONCURRENCY}, ${BLOCKS} alternating blocks of ${BLOCK_MS} ms per variant, Node ${process.version}, local redis-server, development issuer (ES256)\n`,
);
printTable(
  ['what', 'ops/s', 'CPU µs/op', 'ops/s vs /api/carts/{userId}'],
  names.map((name) => {
    const t = row(name);
    const ops = t.ops / (t.ms / 1000);
    return [
      name,
      Math.round(ops),
      (t.cpuUs / t.ops).toFixed(1),
      name.startsWith('GET') ? (ops / adminOps).toFixed(2) : '',
    ];
  }),
);
console.log('\nReproduce: npm run bench:auth');
await closeRedis();
await issuer.stop();
await redis.stop();
