// Benchmark: the local runner serving GET /api/health next to a bare node:http server answering the
// same JSON, both measured in this run with autocannon. Reproduce with: npm run bench:runner
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import autocannon from 'autocannon';

import { freePort, startRedis } from '../scripts/localServices.js';
import { median, printTable, startNode, stop } from './support.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(url: string): Promise<Sample> {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

const redisPort = await freePort();
const redis = await startRedis(redisPort, mkdtempSync(join(tmpdir(), 'bench-redis-')));
const barePort = await freePort();
const runnerPort = await freePort();
const bare = await startNode('bench/bareServer.js', barePort);
const runner = await startNode('local-runner/serve.js', runnerPort, {
  REDIS_URL: `redis://127.0.0.1:${redisPort}`,
  LOCAL_RUNNER_LOG_LEVEL: 'warning',
  AzureWebJobsStorage: '',
});

const samples: Record<'bare' | 'runner', Sample[]> = { bare: [], runner: [] };
try {
  // Warm up both, then alternate rounds so drift on a shared machine hits both sides alike.
  await autocannon({ url: `http://127.0.0.1:${barePort}/api/health`, connections: 8, duration: 2 });
  await autocannon({ url: `http://127.0.0.1:${runnerPort}/api/health`, connections: 8, duration: 2 });
  for (let i = 0; i < ROUNDS; i++) {
    samples.bare.push(await load(`http://127.0.0.1:${barePort}/api/health`));
    samples.runner.push(await load(`http://127.0.0.1:${runnerPort}/api/health`));
  }
} finally {
  await stop(bare);
  await stop(runner);
  await redis.stop();
}

const summary = (s: Sample[]) => ({
  rps: median(s.map((x) => x.rps)),
  p50: median(s.map((x) => x.p50)),
  p99: median(s.map((x) => x.p99)),
  errors: s.reduce((a, x) => a + x.errors, 0),
});
const b = summary(samples.bare);
const r = summary(samples.runner);
console.log(
  `\nGET /api/health, ${CONNECTIONS} connections, ${ROUNDS} x ${DURATION_S} s rounds each (medians), Node ${process.version}\n`,
);
printTable(
  ['server', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'req/s vs bare'],
  [
    ['bare node:http (same JSON, no Redis)', Math.round(b.rps), b.p50, b.p99, b.errors, '1.00'],
    [
      'local runner -> getHealth (Redis PING)',
      Math.round(r.rps),
      r.p50,
      r.p99,
      r.errors,
      (r.rps / b.rps).toFixed(2),
    ],
  ],
);
