// Benchmark: add-to-cart and get-cart (20-line cart) through the function handlers, with the Redis
// deadline watchdog on (the default) and off, with the SKU client-side cache (the default) and without, with OpenTelemetry on (every span and metric recorded and
// handed to exporters that discard them: the app's cost without the network's), with Redis command spans
// and with node-redis's metrics, next to a raw node-redis client issuing the same Redis commands at the
// same concurrency. Each measurement runs in a fresh child process (the settings are read once per
// process), the variants alternate round by round, and ratios are taken round by round. A second table
// measures the spans alone inside one process, on and off in alternating blocks, which the machine's
// drift cannot skew. OTEL_TRACES_SAMPLER_ARG sets the share of successful traces kept (default 1: all);
// BENCH_VARIANTS=default,telemetry runs only the variants whose names contain one of the words.
// Reproduce with: npm run bench:cart
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import functions, { type HttpHandler, type HttpResponseInit } from '@azure/functions';
import { createClient } from 'redis';

import { freePort, startRedis } from '../scripts/localServices.js';
import { median, printTable } from './support.js';

const DURATION_MS = Number(process.env.BENCH_DURATION_S ?? 5) * 1000;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LINES = 20;
const OPERATIONS = ['add-to-cart', 'get-cart (20 lines)'] as const;
type Operation = (typeof OPERATIONS)[number];
const ALL_VARIANTS = [
  'raw node-redis',
  'handler, watchdog off',
  'handler, watchdog on (default)',
  'handler, SKU cache off',
  'handler, telemetry on',
  'handler, telemetry + Redis spans',
  'handler, telemetry + Redis metrics',
] as const;
type Variant = (typeof ALL_VARIANTS)[number];
const VARIANTS = ALL_VARIANTS.filter(
  (v) => !process.env.BENCH_VARIANTS || process.env.BENCH_VARIANTS.split(',').some((w) => v.includes(w)),
);

interface Result {
  opsPerSec: number;
  p50: number;
  p99: number;
  /** CPU time (user + system) of this process per operation, µs: steadier than ops/s on a shared machine. */
  cpuUs: number;
  /** The SKU cache's hit ratio and entries at the end (handler variants with the cache). */
  cache?: { hitRate: number; entries: number };
  /** Heap in use after a full GC at the end, MB: the cache's memory is the difference to "SKU cache off". */
  heapMB?: number;
}

const skuIds = Array.from({ length: LINES }, (_, i) => `bench-sku-${String(i).padStart(2, '0')}`);

/** Starts the app's telemetry with exporters that drop everything they are handed. */
async function startDiscardingTelemetry(): Promise<void> {
  const { startTelemetry } = await import('../shared/telemetry/setup.js');
  const { KeepFailuresProcessor } = await import('../shared/telemetry/keepFailures.js');
  const { getTelemetryConfig } = await import('../shared/config.js');
  const { BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const { PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics');
  const done = (_items: unknown, callback: (r: { code: 0 }) => void) => {
    callback({ code: 0 });
  };
  const discard = { export: done, shutdown: () => Promise.resolve(), forceFlush: () => Promise.resolve() };
  await startTelemetry({
    spanProcessors: [
      new KeepFailuresProcessor(new BatchSpanProcessor(discard), getTelemetryConfig().successRatio),
    ],
    metricReaders: [new PeriodicExportingMetricReader({ exporter: discard, exportIntervalMillis: 1000 })],
    logRecordProcessors: [],
  });
}

/** The span path's cost measured inside one process: the same work, spans on and off in turn. */
interface Interleaved {
  onCpuUs: number;
  offCpuUs: number;
  onOps: number;
  offOps: number;
}

const BLOCKS = 24;
const BLOCK_MS = 200;

/**
 * Child: measures one operation in one variant against the Redis on `port` and prints the result. With
 * `interleave`, a telemetry variant instead alternates short blocks with its spans on and off in the same
 * process (the SDK stays loaded and node-redis's subscribers stay on in both), so the machine's drift
 * cancels out: this isolates the cost of the request span and the command spans.
 */
async function child(
  port: number,
  operation: Operation,
  variant: Variant,
  interleave: boolean,
): Promise<void> {
  process.env.REDIS_URL = `redis://127.0.0.1:${port}`;
  process.env.MAX_LINE_QUANTITY = '1000000';
  process.env.REDIS_DEADLINE_MS = variant === 'handler, watchdog off' ? '0' : '2000';
  // Every handler variant reads SKUs through the cache (opt-in in the app) except the one without it.
  process.env.SKU_CACHE_MAX_ENTRIES = variant === 'handler, SKU cache off' ? '0' : '10000';
  if (variant === 'handler, telemetry + Redis spans') process.env.REDIS_TELEMETRY = 'spans';
  if (variant === 'handler, telemetry + Redis metrics') process.env.REDIS_TELEMETRY = 'metrics';
  if (variant.startsWith('handler, telemetry')) await startDiscardingTelemetry();
  // Node's ESM loader cannot see this CommonJS bundle's class exports by name; the default export has them.
  const { HttpRequest, InvocationContext } = functions;
  // The handlers register with app.http at import; outside the host that only prints a warning.
  const warn = console.warn;
  console.warn = () => undefined;
  const { addCartItem, getCart } = await import('../functions/carts.js');
  const { closeRedis } = await import('../shared/redis/client.js');
  const { skuCacheStats } = await import('../shared/redis/skuReader.js');
  const { CART_ADD } = await import('../shared/carts/scripts.js');
  console.warn = warn;

  // The same connection behaviour as the app's client (no per-command timer, fail fast when offline).
  const raw = createClient({
    socket: { host: '127.0.0.1', port },
    disableOfflineQueue: true,
    commandOptions: { timeout: 0 },
  });
  await raw.connect();
  await raw.scriptLoad(CART_ADD.source);
  const context = new InvocationContext({ functionName: 'bench', logHandler: () => undefined });
  const ttl = String(30 * 86_400);

  const built = new Map<string, InstanceType<typeof HttpRequest>>();
  const viaHandler = async (
    handler: HttpHandler,
    method: string,
    path: string,
    params: Record<string, string>,
    body?: unknown,
  ) => {
    const make = () =>
      new HttpRequest({
        method,
        url: `http://127.0.0.1/api${path}`,
        params,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: { string: JSON.stringify(body) } }),
      });
    // A GET has no body to consume: each caller's request is built once, so that what is measured is the
    // handler's own work (the library builds the request before the handler runs; bench:hop counts that).
    let request = method === 'GET' ? built.get(path) : undefined;
    if (!request) {
      request = make();
      if (method === 'GET') built.set(path, request);
    }
    const res = (await handler(request, context)) as HttpResponseInit;
    if (res.status !== 200) throw new Error(`${method} ${path} answered ${String(res.status)}`);
  };
  const priceLines = async (lines: string[]) => {
    await Promise.all(lines.map((id) => raw.hmGet(`sku:${id}`, ['name', 'price'])));
  };

  type Op = (worker: number, i: number) => Promise<void>;
  const ops: Record<Operation, { handler: Op; raw: Op }> = {
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
        const [, g] = await Promise.all([
          raw.exists(`user:bench${w}`),
          raw.get(`{user:bench${w}}:generation`),
          raw.hmGet(`sku:${sku}`, ['name', 'price']),
        ]);
        const reply = (await raw.evalSha(CART_ADD.sha1, {
          keys: [`cart:bench${w}`, `{cart:bench${w}}:owner`],
          arguments: [sku, '1', '1000000', ttl, g ?? '1'],
        })) as [string, string[]];
        await priceLines(reply[1].filter((_, j) => j % 2 === 0));
      },
    },
    'get-cart (20 lines)': {
      handler: (w) => viaHandler(getCart, 'GET', `/carts/bench${w}`, { userId: `bench${w}` }),
      raw: async (w) => {
        const [, , lines] = await Promise.all([
          raw.exists(`user:bench${w}`),
          raw.get(`{user:bench${w}}:generation`),
          raw.hGetAll(`cart:bench${w}`),
          raw.hmGet(`{cart:bench${w}}:owner`, ['live', 'closed']),
        ]);
        await priceLines(Object.keys(lines));
      },
    },
  };

  const measure = async (op: Op, durationMs: number): Promise<Result> => {
    const latencies: number[] = [];
    const cpu = process.cpuUsage();
    const end = performance.now() + durationMs;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, w) => {
        for (let i = 0; performance.now() < end; i++) {
          const t = performance.now();
          await op(w, i);
          latencies.push(performance.now() - t);
        }
      }),
    );
    const used = process.cpuUsage(cpu);
    latencies.sort((a, b) => a - b);
    const at = (q: number) =>
      Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(2));
    return {
      opsPerSec: latencies.length / (durationMs / 1000),
      p50: at(0.5),
      p99: at(0.99),
      cpuUs: Number(((used.user + used.system) / latencies.length).toFixed(1)),
    };
  };

  const pair = ops[operation];
  const op = variant === 'raw node-redis' ? pair.raw : pair.handler;
  await measure(op, 1000); // warm-up: JIT, script cache, connections
  let result: Result | Interleaved;
  if (interleave) {
    const { setTelemetryOn } = await import('../shared/telemetry/tracer.js');
    const sum = { on: { cpu: 0, ops: 0 }, off: { cpu: 0, ops: 0 } };
    for (let b = 0; b < BLOCKS; b++) {
      for (const mode of b % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
        setTelemetryOn(mode === 'on');
        const r = await measure(op, BLOCK_MS);
        const count = (r.opsPerSec * BLOCK_MS) / 1000;
        sum[mode].cpu += r.cpuUs * count;
        sum[mode].ops += count;
      }
    }
    const seconds = (BLOCKS * BLOCK_MS) / 1000;
    result = {
      onCpuUs: sum.on.cpu / sum.on.ops,
      offCpuUs: sum.off.cpu / sum.off.ops,
      onOps: sum.on.ops / seconds,
      offOps: sum.off.ops / seconds,
    };
  } else {
    result = await measure(op, DURATION_MS);
    const stats = await skuCacheStats();
    if (stats) result.cache = { hitRate: stats.hitRate, entries: stats.entries };
    (globalThis as { gc?: () => void }).gc?.();
    result.heapMB = process.memoryUsage().heapUsed / 1e6;
  }
  raw.destroy();
  await closeRedis();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runChild<R = Result>(
  port: number,
  operation: Operation,
  variant: Variant,
  interleave = false,
): Promise<R> {
  return new Promise((resolve, reject) => {
    // As in Azure (NODE_OPTIONS in infra): the trace context without promise hooks on Node 22.
    const args = [
      '--experimental-async-context-frame',
      '--expose-gc',
      fileURLToPath(import.meta.url),
      String(port),
      operation,
      variant,
      ...(interleave ? ['interleave'] : []),
    ];
    const proc = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.once('exit', (code) => {
      if (code !== 0) reject(new Error(`${variant} / ${operation} exited with ${String(code)}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as R);
    });
  });
}

async function parent(): Promise<void> {
  const port = await freePort();
  const server = await startRedis(port, mkdtempSync(join(tmpdir(), 'bench-cart-')));
  const rows: Array<Array<string | number>> = [];
  const cacheRows: Array<Array<string | number>> = [];
  const spanRows: Array<Array<string | number>> = [];
  try {
    const seed = createClient({ socket: { host: '127.0.0.1', port } });
    await seed.connect();
    for (const [i, id] of skuIds.entries())
      await seed.hSet(`sku:${id}`, { name: `Item ${i}`, price: `${i + 1}.99` });
    for (let w = 0; w < CONCURRENCY; w++) {
      await seed.hSet(`user:bench${w}`, { first_name: 'Bench', last_name: `${w}` });
      // As POST /users leaves them: generation 1, which owns the cart.
      await seed.set(`{user:bench${w}}:generation`, '1');
      await seed.hSet(`{cart:bench${w}}:owner`, { next: '1', live: '1' });
      await seed.hSet(`cart:bench${w}`, Object.fromEntries(skuIds.map((id) => [id, '1'])));
    }
    seed.destroy();
    for (const operation of OPERATIONS) {
      const results = new Map<Variant, Result[]>(VARIANTS.map((v) => [v, []]));
      for (let k = 0; k < ROUNDS; k++) {
        for (const variant of VARIANTS) results.get(variant)?.push(await runChild(port, operation, variant));
      }
      type Measured = 'opsPerSec' | 'p50' | 'p99' | 'cpuUs' | 'heapMB';
      const m = (v: Variant, f: Measured) => median((results.get(v) ?? []).map((x) => x[f] ?? Number.NaN));
      // Ratios are taken round by round (the two ran minutes apart at most), then the median of those:
      // steadier on a shared machine than a ratio of medians. Blank when a variant was not run.
      const ratio = (v: Variant, against: Variant, f: 'opsPerSec' | 'cpuUs') => {
        const mine = results.get(v) ?? [];
        const theirs = results.get(against) ?? [];
        if (mine.length === 0 || theirs.length === 0) return '';
        return median(mine.map((r, k) => r[f] / (theirs[k]?.[f] ?? Number.NaN))).toFixed(3);
      };
      for (const v of VARIANTS) {
        const handler = v !== 'raw node-redis';
        const telemetry = v.startsWith('handler, telemetry');
        rows.push([
          operation,
          v,
          Math.round(m(v, 'opsPerSec')),
          m(v, 'p50'),
          m(v, 'p99'),
          m(v, 'cpuUs'),
          handler ? ratio(v, 'raw node-redis', 'opsPerSec') : '',
          handler ? ratio(v, 'handler, watchdog off', 'opsPerSec') : '',
          handler ? ratio(v, 'handler, watchdog off', 'cpuUs') : '',
          telemetry ? ratio(v, 'handler, watchdog on (default)', 'opsPerSec') : '',
          telemetry ? ratio(v, 'handler, watchdog on (default)', 'cpuUs') : '',
        ]);
      }
      const defaults = results.get('handler, watchdog on (default)') ?? [];
      if (defaults[0]?.cache && results.get('handler, SKU cache off')?.length) {
        cacheRows.push([
          operation,
          median(defaults.map((r) => r.cache?.hitRate ?? 0)).toFixed(4),
          median(defaults.map((r) => r.cache?.entries ?? 0)),
          (m('handler, watchdog on (default)', 'heapMB') - m('handler, SKU cache off', 'heapMB')).toFixed(2),
          ratio('handler, watchdog on (default)', 'handler, SKU cache off', 'opsPerSec'),
          ratio('handler, watchdog on (default)', 'handler, SKU cache off', 'cpuUs'),
        ]);
      }
      for (const v of VARIANTS.filter((x) => x.startsWith('handler, telemetry'))) {
        const r = await runChild<Interleaved>(port, operation, v, true);
        spanRows.push([
          operation,
          v,
          r.offCpuUs.toFixed(1),
          r.onCpuUs.toFixed(1),
          (r.onOps / r.offOps).toFixed(3),
          (r.onCpuUs / r.offCpuUs).toFixed(3),
        ]);
      }
    }
  } finally {
    await server.stop();
  }
  console.log(
    `\nconcurrency ${CONCURRENCY}, ${ROUNDS} alternating rounds of ${DURATION_MS / 1000} s per variant (medians, each in a fresh process), Node ${process.version}, local redis-server\n`,
  );
  printTable(
    [
      'operation',
      'path',
      'ops/s',
      'p50 ms',
      'p99 ms',
      'CPU µs/op',
      'ops/s vs raw',
      'ops/s vs watchdog off',
      'CPU/op vs watchdog off',
      'ops/s vs telemetry off',
      'CPU/op vs telemetry off',
    ],
    rows,
  );
  if (cacheRows.length > 0) {
    console.log(
      '\nthe SKU cache in the default variant (hit ratio and entries at the end of a round; heap after a full GC, against "SKU cache off")\n',
    );
    printTable(
      [
        'operation',
        'hit ratio',
        'entries',
        'heap MB vs cache off',
        'ops/s vs cache off',
        'CPU/op vs cache off',
      ],
      cacheRows,
    );
  }
  if (spanRows.length === 0) return;
  console.log(
    `\nspans on against off in one process, ${BLOCKS} alternating blocks of ${BLOCK_MS} ms each (OTEL_TRACES_SAMPLER_ARG=${process.env.OTEL_TRACES_SAMPLER_ARG ?? '1'})\n`,
  );
  printTable(
    ['operation', 'path', 'CPU µs/op off', 'CPU µs/op on', 'ops/s on vs off', 'CPU/op on vs off'],
    spanRows,
  );
}

const [portArg, operationArg, variantArg, modeArg] = process.argv.slice(2);
if (portArg && operationArg && variantArg) {
  await child(Number(portArg), operationArg as Operation, variantArg as Variant, modeArg === 'interleave');
} else {
  await parent();
}
