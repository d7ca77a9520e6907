// Benchmark: what telemetry costs the biglist loader end to end (POST to completed, through Azurite and
// the local runner), with telemetry off, on (spans of each invocation, logs, metrics) and on with a span
// per Redis command (REDIS_TELEMETRY=on). Spans go to the SDK's console exporter, whose output is dropped.
// Variants alternate round by round, each in a fresh runner process. Reproduce with: npm run bench:loader-telemetry
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { QueueServiceClient } from '@azure/storage-queue';
import { createClient } from 'redis';

import { freePort, startAzurite, startRedis } from '../scripts/localServices.js';
import { median, printTable, startNode, stop } from './support.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 20_000_000);
const SEGMENT = 1_000_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const VARIANTS = {
  'telemetry off': {},
  'telemetry on': {
    OTEL_TRACES_EXPORTER: 'console',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
  },
  'telemetry on + Redis commands': {
    OTEL_TRACES_EXPORTER: 'console',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
    REDIS_TELEMETRY: 'on',
  },
} as const;
type Variant = keyof typeof VARIANTS;

const redisPort = await freePort();
const dir = mkdtempSync(join(tmpdir(), 'bench-loader-otel-'));
const redis = await startRedis(redisPort, dir, ['--maxmemory', '0']);
const azurite = await startAzurite(dir);
const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(
  'biglist-segments',
);
await queue.createIfNotExists();
const admin = createClient({ socket: { host: '127.0.0.1', port: redisPort } });
await admin.connect();

async function load(variant: Variant): Promise<number> {
  await admin.flushAll();
  await queue.clearMessages();
  const port = await freePort();
  const runner = await startNode('local-runner/serve.js', port, {
    AzureWebJobsStorage: azurite.connectionString,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    LOCAL_RUNNER_LOG_LEVEL: 'warning',
    NODE_OPTIONS: '--experimental-async-context-frame',
    ...VARIANTS[variant],
  });
  try {
    const api = `http://127.0.0.1:${port}/api`;
    const t = performance.now();
    const res = await fetch(`${api}/biglist/loads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ count: COUNT, segmentSize: SEGMENT }),
    });
    const { loadId } = (await res.json()) as { loadId: string };
    for (;;) {
      const s = (await (await fetch(`${api}/biglist/loads/${loadId}`)).json()) as { state: string };
      if (s.state === 'completed') break;
      if (s.state !== 'queued' && s.state !== 'running') throw new Error(`load ${loadId} ${s.state}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return COUNT / ((performance.now() - t) / 1000);
  } finally {
    await stop(runner);
  }
}

try {
  const results = new Map<Variant, number[]>();
  for (let k = 0; k < ROUNDS; k++)
    for (const v of Object.keys(VARIANTS) as Variant[])
      results.set(v, [...(results.get(v) ?? []), await load(v)]);
  const off = median(results.get('telemetry off') ?? []);
  console.log(
    `\n${COUNT.toLocaleString('en')} values in segments of ${SEGMENT.toLocaleString('en')}, RESTORE path, ${ROUNDS} alternating rounds (medians), Node ${process.version}\n`,
  );
  printTable(
    ['variant', 'values/s', 'vs telemetry off'],
    (Object.keys(VARIANTS) as Variant[]).map((v) => {
      const vps = median(results.get(v) ?? []);
      return [v, `${(vps / 1e6).toFixed(2)} M/s`, (vps / off).toFixed(3)];
    }),
  );
} finally {
  admin.destroy();
  await azurite.stop();
  await redis.stop();
}
