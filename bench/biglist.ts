// Benchmark of the biglist loader and export against redis-benchmark's variadic LPUSH, all on one local
// Redis in one run: the write path and the end-to-end load in both write modes (RESTORE of serialized
// segments, pipelined LPUSH), where RESTORE starts to pay, and the streaming export through the runner.
// Reproduce with: npm run bench:biglist   (BENCH_BIG=1 uses 100 million values instead of 20 million)
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { QueueServiceClient } from '@azure/storage-queue';
import { createClient } from 'redis';

import { freePort, startAzurite, startRedis } from '../scripts/localServices.js';
import { median, printTable, startNode, stop } from './support.js';

const run = promisify(execFile);
const BIG = process.env.BENCH_BIG === '1';
const LARGE = BIG ? 100_000_000 : 20_000_000;
type Mode = 'restore' | 'lpush';
const fmt = (vps: number) => `${(vps / 1e6).toFixed(2)} M/s`;
const big = (n: number) => n.toLocaleString('en');

/** Child: the loader's own write path (service.processMessage) in one write mode; prints values/s. */
async function writePathChild(
  port: number,
  mode: Mode,
  count: number,
  segmentSize: number,
  parallel: number,
) {
  process.env.REDIS_URL = `redis://127.0.0.1:${port}`;
  process.env.BIGLIST_WRITE_MODE = mode;
  const svc = await import('../shared/biglist/service.js');
  const loader = await import('../shared/biglist/loader.js');
  const { closeRedis } = await import('../shared/redis/client.js');
  const log = { log: () => undefined, warn: () => undefined, error: () => undefined };
  const load = await svc.startLoad({ count, segmentSize });
  const queue = [...load.messages];
  const t = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let m = queue.shift(); m; m = queue.shift())
        await loader.processMessage(m, { dequeueCount: 1 }, log);
    }),
  );
  const vps = count / ((performance.now() - t) / 1000);
  const status = await svc.getLoad(load.loadId);
  if (status.state !== 'completed') throw new Error('write-path load did not complete');
  await closeRedis();
  process.stdout.write(`${JSON.stringify({ vps, written: status.writePath })}\n`);
}

async function parent(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  const notes: string[] = [];
  const redisPort = await freePort();
  const redisDir = mkdtempSync(join(tmpdir(), 'bench-biglist-'));
  const server = await startRedis(redisPort, redisDir, ['--maxmemory', '0']);
  const azurite = await startAzurite(redisDir);
  const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(
    'biglist-segments',
  );
  await queue.createIfNotExists();
  const admin = createClient({ socket: { host: '127.0.0.1', port: redisPort } });
  await admin.connect();
  const childEnv = { AzureWebJobsStorage: azurite.connectionString };

  /** redis-benchmark: LPUSH of 1000 values per command, pipeline 10, 2 connections (values/s). */
  async function redisBenchmark(): Promise<number> {
    const values = Array.from({ length: 1000 }, (_, i) => String(i + 1));
    const { stdout } = await run(
      'redis-benchmark',
      ['-p', String(redisPort), '-n', '20000', '-P', '10', '-c', '2', '--csv', 'lpush', 'rb', ...values],
      { maxBuffer: 1 << 24 },
    );
    await admin.del('rb');
    const fields = JSON.parse(`[${stdout.trim().split('\n').at(-1) ?? ''}]`) as unknown[];
    return Number(fields[1]) * 1000;
  }

  function writePath(mode: Mode, count: number, segmentSize: number, parallel: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const args = [
        fileURLToPath(import.meta.url),
        'write',
        String(redisPort),
        mode,
        String(count),
        String(segmentSize),
        String(parallel),
      ];
      const proc = spawn(process.execPath, args, {
        env: { ...process.env, ...childEnv },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
      proc.once('exit', (code) => {
        if (code !== 0) reject(new Error(`write path ${mode} exited with ${String(code)}`));
        else resolve((JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { vps: number }).vps);
      });
    });
  }

  try {
    // Baselines and write paths back to back; redis-benchmark swings between runs on this shared machine,
    // so the baseline is the median of three runs spread over this part.
    const rbRuns = [await redisBenchmark()];
    const paths: Array<[string, number]> = [];
    for (const parallel of [1, 2, 4]) {
      paths.push([
        `loader write path, RESTORE, ${parallel} segment(s) of 1,000,000 at a time`,
        await writePath('restore', 8_000_000, 1_000_000, parallel),
      ]);
      paths.push([
        `loader write path, LPUSH x10000 (4 in flight), ${parallel} segment(s) at a time`,
        await writePath('lpush', 8_000_000, 1_000_000, parallel),
      ]);
    }
    rbRuns.push(await redisBenchmark());
    // Where RESTORE starts to pay: the same 2,000,000 values in segments of each size, 2 at a time.
    const sizes: Array<[number, number, number]> = [];
    for (const size of [10_000, 20_000, 50_000, 100_000]) {
      sizes.push([
        size,
        await writePath('restore', 2_000_000, size, 2),
        await writePath('lpush', 2_000_000, size, 2),
      ]);
    }
    rbRuns.push(await redisBenchmark());
    const rb = median(rbRuns);
    rows.push([
      `redis-benchmark LPUSH x1000, pipeline 10, 2 conns (median of ${rbRuns.map(fmt).join(', ')})`,
      fmt(rb),
      '1.00',
    ]);
    for (const [name, vps] of paths) rows.push([name, fmt(vps), (vps / rb).toFixed(2)]);
    for (const [size, restore, lpush] of sizes) {
      rows.push([`write path, segments of ${big(size)}: RESTORE`, fmt(restore), (restore / rb).toFixed(2)]);
      rows.push([`write path, segments of ${big(size)}: LPUSH`, fmt(lpush), (lpush / rb).toFixed(2)]);
    }

    // End to end through Azurite and the runner, and the export, once per write mode.
    for (const mode of ['restore', 'lpush'] as const) {
      await admin.flushAll();
      await queue.clearMessages();
      const runnerPort = await freePort();
      const runner = await startNode('local-runner/serve.js', runnerPort, {
        ...childEnv,
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        BIGLIST_WRITE_MODE: mode,
        LOCAL_RUNNER_LOG_LEVEL: 'warning',
      });
      const api = `http://127.0.0.1:${runnerPort}/api`;
      try {
        const t = performance.now();
        const res = await fetch(`${api}/biglist/loads`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ count: LARGE, segmentSize: 1_000_000 }),
        });
        const { loadId } = (await res.json()) as { loadId: string };
        let written: unknown;
        for (;;) {
          const s = (await (await fetch(`${api}/biglist/loads/${loadId}`)).json()) as {
            state: string;
            writePath: unknown;
          };
          if (s.state === 'completed') {
            written = s.writePath;
            break;
          }
          if (s.state !== 'queued' && s.state !== 'running') throw new Error(`load ${loadId} ${s.state}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        const loadSeconds = (performance.now() - t) / 1000;
        rows.push([
          `end to end (POST -> Azurite -> runner -> completed), ${big(LARGE)} values, ${mode}`,
          fmt(LARGE / loadSeconds),
          (LARGE / loadSeconds / rb).toFixed(2),
        ]);
        notes.push(
          `${mode}: load of ${big(LARGE)} in ${loadSeconds.toFixed(1)} s, segments written ${JSON.stringify(written)}`,
        );

        // The export, checked value by value as it streams in.
        const e = performance.now();
        const exp = await fetch(`${api}/biglist/export`);
        const decoder = new TextDecoder();
        let expected = LARGE;
        let carry = '';
        for await (const chunk of exp.body as unknown as AsyncIterable<Uint8Array>) {
          const parts = (carry + decoder.decode(chunk, { stream: true })).split('\n');
          carry = parts.pop() ?? '';
          for (const p of parts) {
            if (Number(p) !== expected) throw new Error(`export: ${p} where ${expected} was expected`);
            expected--;
          }
        }
        if (expected !== 0) throw new Error(`export stopped at ${expected}`);
        const exportSeconds = (performance.now() - e) / 1000;
        const hwm = readFileSync(`/proc/${runner.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/)?.[1] ?? '0';
        rows.push([
          `export GET /api/biglist/export (newest first, every value checked), ${big(LARGE)} values`,
          fmt(LARGE / exportSeconds),
          (LARGE / exportSeconds / rb).toFixed(2),
        ]);
        const mem = (await admin.info('memory')).match(/used_memory:(\d+)/)?.[1] ?? '0';
        notes.push(
          `${mode}: export ${exportSeconds.toFixed(1)} s; runner peak memory (VmHWM) ${(Number(hwm) / 1024).toFixed(0)} MiB; Redis used_memory ${(Number(mem) / 2 ** 20).toFixed(0)} MiB (${(Number(mem) / LARGE).toFixed(1)} bytes per value)`,
        );
      } finally {
        await stop(runner);
      }
    }

    // For reference, the paged way to read: a node-redis loop of 10,000-value LRANGEs, 8 in flight, as text.
    {
      const t = performance.now();
      const lists = await admin.keys('biglist*');
      let values = 0;
      for (const key of lists) {
        const len = await admin.lLen(key);
        const window = new Set<Promise<void>>();
        for (let from = 0; from < len; from += 10_000) {
          const p: Promise<void> = admin.lRange(key, from, from + 9_999).then((vs) => {
            values += Buffer.byteLength(vs.join('\n')) > 0 ? vs.length : 0;
            window.delete(p);
          });
          window.add(p);
          if (window.size >= 8) await Promise.race(window);
        }
        await Promise.all(window);
      }
      const vps = values / ((performance.now() - t) / 1000);
      rows.push([
        `reference: node-redis LRANGE x10000, 8 in flight, joined as text (${big(values)} values)`,
        fmt(vps),
        (vps / rb).toFixed(2),
      ]);
    }
  } finally {
    admin.destroy();
    await azurite.stop();
    await server.stop();
  }
  console.log(
    `\nbiglist, local redis-server, Node ${process.version}; ratios against redis-benchmark in the same run\n`,
  );
  printTable(['path', 'values/s', 'vs redis-benchmark'], rows);
  for (const line of notes) console.log(line);
}

const [role, ...args] = process.argv.slice(2);
if (role === 'write') {
  const [port, mode, count, segmentSize, parallel] = args;
  await writePathChild(Number(port), mode as Mode, Number(count), Number(segmentSize), Number(parallel));
} else {
  await parent();
}
