// Benchmark: add-to-cart and get-cart (20-line cart) through the function handlers, next to a raw
// node-redis client issuing the same Redis commands at the same concurrency, in one run.
// Reproduce with: npm run bench:cart
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import functions, { type HttpHandler, type HttpResponseInit } from '@azure/functions';
import { createClient } from 'redis';
import { freePort, startRedis } from '../test/support/servers.js';
import { median, printTable } from './support.js';

// Node's ESM loader cannot see this CommonJS bundle's class exports by name; the default export has them.
const { HttpRequest, InvocationContext } = functions;

const DURATION_MS = Number(process.env.BENCH_DURATION_S ?? 5) * 1000;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LINES = 20;

const redisPort = await freePort();
const server = await startRedis(redisPort, mkdtempSync(join(tmpdir(), 'bench-cart-')));
process.env.REDIS_URL = `redis://127.0.0.1:${redisPort}`;
process.env.MAX_LINE_QUANTITY = '1000000';
// The handlers register with app.http at import; outside the host that only prints a warning.
const warn = console.warn;
console.warn = () => undefined;
const { addCartItem, getCart } = await import('../functions/carts.js');
const { closeRedis } = await import('../shared/redis/client.js');
const { CART_ADD } = await import('../shared/redis/scripts.js');
console.warn = warn;

// The same connection behaviour as the app's client (no per-command timer, fail fast when offline).
const raw = createClient({
  socket: { host: '127.0.0.1', port: redisPort },
  disableOfflineQueue: true,
  commandOptions: { timeout: 0 },
});
await raw.connect();
const skuIds = Array.from({ length: LINES }, (_, i) => `bench-sku-${String(i).padStart(2, '0')}`);
for (const [i, id] of skuIds.entries())
  await raw.hSet(`sku:${id}`, { name: `Item ${i}`, price: `${i + 1}.99` });
for (let w = 0; w < CONCURRENCY; w++) {
  await raw.hSet(`user:bench${w}`, { first_name: 'Bench', last_name: `${w}` });
  await raw.hSet(`cart:bench${w}`, Object.fromEntries(skuIds.map((id) => [id, '1'])));
}
await raw.scriptLoad(CART_ADD.source);

const context = new InvocationContext({ functionName: 'bench', logHandler: () => undefined });
const ttl = String(30 * 86_400);

async function viaHandler(
  handler: HttpHandler,
  method: string,
  path: string,
  params: Record<string, string>,
  body?: unknown,
): Promise<void> {
  const request = new HttpRequest({
    method,
    url: `http://127.0.0.1/api${path}`,
    params,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: { string: JSON.stringify(body) } }),
  });
  const res = (await handler(request, context)) as HttpResponseInit;
  if (res.status !== 200) throw new Error(`${method} ${path} answered ${String(res.status)}`);
}

async function priceLines(lines: string[]): Promise<void> {
  await Promise.all(lines.map((id) => raw.hmGet(`sku:${id}`, ['name', 'price'])));
}

type Op = (worker: number, i: number) => Promise<void>;
const ops: Record<string, { handler: Op; raw: Op }> = {
  'add-to-cart': {
    handler: (w, i) =>
      viaHandler(
        addCartItem,
        'POST',
        `/carts/bench${w}/items`,
        { userId: `bench${w}` },
        { skuId: skuIds[i % LINES], quantity: 1 },
      ),
    raw: async (w, i) => {
      const sku = skuIds[i % LINES] ?? '';
      await Promise.all([raw.exists(`user:bench${w}`), raw.hmGet(`sku:${sku}`, ['name', 'price'])]);
      const reply = (await raw.evalSha(CART_ADD.sha1, {
        keys: [`cart:bench${w}`],
        arguments: [sku, '1', '1000000', ttl],
      })) as [string, string[]];
      await priceLines(reply[1].filter((_, j) => j % 2 === 0));
    },
  },
  'get-cart (20 lines)': {
    handler: (w) => viaHandler(getCart, 'GET', `/carts/bench${w}`, { userId: `bench${w}` }),
    raw: async (w) => {
      const [, lines] = await Promise.all([raw.exists(`user:bench${w}`), raw.hGetAll(`cart:bench${w}`)]);
      await priceLines(Object.keys(lines));
    },
  },
};

interface Result {
  opsPerSec: number;
  p50: number;
  p99: number;
}

async function measure(op: Op): Promise<Result> {
  const latencies: number[] = [];
  const end = performance.now() + DURATION_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        const t = performance.now();
        await op(w, i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(2));
  return { opsPerSec: latencies.length / (DURATION_MS / 1000), p50: at(0.5), p99: at(0.99) };
}

const rows: Array<Array<string | number>> = [];
try {
  for (const [name, pair] of Object.entries(ops)) {
    await measure(pair.handler); // warm-up: JIT, script cache, connections
    const h: Result[] = [];
    const r: Result[] = [];
    for (let k = 0; k < ROUNDS; k++) {
      r.push(await measure(pair.raw));
      h.push(await measure(pair.handler));
    }
    const m = (xs: Result[], f: keyof Result) => median(xs.map((x) => x[f]));
    rows.push([name, 'raw node-redis', Math.round(m(r, 'opsPerSec')), m(r, 'p50'), m(r, 'p99'), '1.00']);
    rows.push([
      name,
      'function handler',
      Math.round(m(h, 'opsPerSec')),
      m(h, 'p50'),
      m(h, 'p99'),
      (m(h, 'opsPerSec') / m(r, 'opsPerSec')).toFixed(2),
    ]);
  }
} finally {
  raw.destroy();
  await closeRedis();
  await server.stop();
}

console.log(
  `\nconcurrency ${CONCURRENCY}, ${ROUNDS} alternating rounds of ${DURATION_MS / 1000} s (medians), Node ${process.version}, local redis-server\n`,
);
printTable(['operation', 'path', 'ops/s', 'p50 ms', 'p99 ms', 'ops/s vs raw'], rows);
