// Benchmark: GET /api/carts/{userId} (a 20-line cart) through the local runner (the app with HTTP
// streaming on, as deployed), with and without the SKU cache, next to a plain node:http + node-redis
// server doing the same reads the obvious way (bench/plainCartServer.ts). Each server is its own process;
// rounds alternate; req/s from autocannon and the CPU time per request of the serving process (which, for
// the runner, is also the process that runs the functions), read from /proc. Reproduce: npm run bench:hop
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import autocannon from 'autocannon';

import { freePort, startRedis } from '../scripts/localServices.js';
import { median, printTable, seedBenchCart, startNode, stop } from './support.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
// Linux's USER_HZ: /proc reports CPU time in these ticks.
const TICKS_PER_S = 100;

interface Sample {
  rps: number;
  p99: number;
  cpuUsPerReq: number;
  errors: number;
}

/** User + system CPU seconds of a process so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

async function load(url: string, pid: number): Promise<Sample> {
  const before = cpuSeconds(pid);
  const r = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S });
  const cpu = cpuSeconds(pid) - before;
  return {
    rps: r.requests.average,
    p99: r.latency.p99,
    cpuUsPerReq: (cpu * 1e6) / Math.max(1, r.requests.total),
    errors: r.errors + r.non2xx,
  };
}

const redisPort = await freePort();
const redis = await startRedis(redisPort, mkdtempSync(join(tmpdir(), 'bench-hop-')));
await seedBenchCart(redisPort);

const env = {
  REDIS_URL: `redis://127.0.0.1:${redisPort}`,
  LOCAL_RUNNER_LOG_LEVEL: 'warning',
  AzureWebJobsStorage: '',
};
const variants: Array<{ name: string; script: string; extra: Record<string, string> }> = [
  { name: 'plain node:http + node-redis (the obvious way)', script: 'bench/plainCartServer.js', extra: {} },
  {
    name: 'app through the local runner, SKU cache on (default)',
    script: 'local-runner/serve.js',
    extra: { SKU_CACHE_MAX_ENTRIES: '10000' },
  },
  {
    name: 'app through the local runner, SKU cache off',
    script: 'local-runner/serve.js',
    extra: { SKU_CACHE_MAX_ENTRIES: '0' },
  },
];
const running = [];
for (const v of variants) {
  const port = await freePort();
  running.push({
    ...v,
    port,
    child: await startNode(v.script, port, { ...env, ...v.extra }),
    samples: [] as Sample[],
  });
}
try {
  for (const r of running) {
    // Warm-up: JIT, connections, the SKU cache.
    await autocannon({ url: `http://127.0.0.1:${r.port}/api/carts/bench`, connections: 8, duration: 2 });
  }
  for (let k = 0; k < ROUNDS; k++) {
    for (const r of running) {
      r.samples.push(await load(`http://127.0.0.1:${r.port}/api/carts/bench`, r.child.pid ?? 0));
    }
  }
} finally {
  for (const r of running) await stop(r.child);
  await redis.stop();
}

const base = running[0];
const rows = running.map((r) => {
  const m = (f: keyof Sample) => median(r.samples.map((x) => x[f]));
  // Ratios round by round (the rounds ran seconds apart), then their median.
  const ratio = (f: 'rps' | 'cpuUsPerReq') =>
    median(r.samples.map((x, k) => x[f] / (base?.samples[k]?.[f] ?? Number.NaN))).toFixed(2);
  return [
    r.name,
    Math.round(m('rps')),
    m('p99'),
    m('cpuUsPerReq').toFixed(0),
    r.samples.reduce((a, x) => a + x.errors, 0),
    ratio('rps'),
    ratio('cpuUsPerReq'),
  ];
});
console.log(
  `\nGET /api/carts/{userId} (20 lines), ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${DURATION_S} s (medians), Node ${process.version}, local redis-server\n`,
);
printTable(
  [
    'server',
    'req/s',
    'p99 ms',
    'CPU µs/req (serving process)',
    'errors',
    'req/s vs plain',
    'CPU/req vs plain',
  ],
  rows,
);
console.log('\nReproduce: npm run bench:hop');
