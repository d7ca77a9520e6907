// Server B's export end to end: the whole list streamed through the local runner (HTTP streaming mode),
// checked value by value in both orders, and memory held flat for a client that stops reading.
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import type { Runner } from '../../local-runner/index.js';
import { startApp } from '../support/app.js';
import { call, until } from '../support/http.js';
import { admin } from '../support/redis.js';
import { freePort, type RedisProcess, startRedis } from '../support/servers.js';

const servers = inject('servers');
let runner: Runner;
let redis: RedisProcess;
const logs: string[] = [];

const api = (method: string, path: string, body?: unknown) => call(runner.url, method, path, body);

async function load(count: number, segmentSize: number): Promise<string> {
  const res = await api('POST', '/biglist/loads', { count, segmentSize });
  expect(res.status).toBe(202);
  const loadId = res.body.loadId as string;
  await until(
    `load ${loadId}`,
    async () =>
      (await api('GET', `/biglist/loads/${loadId}`)).body.state === 'completed' ? true : undefined,
    120_000,
  );
  return loadId;
}

/** Reads an export and checks every line against the expected sequence as it arrives. */
async function checkExport(order: 'desc' | 'asc', count: number): Promise<{ lines: number; bad: number }> {
  const res = await fetch(`${runner.url}/api/biglist/export?order=${order}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  expect(res.headers.get('x-biglist-count')).toBe(String(count));
  const decoder = new TextDecoder();
  let carry = '';
  let lines = 0;
  let bad = -1;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const text = carry + decoder.decode(chunk, { stream: true });
    const parts = text.split('\n');
    carry = parts.pop() ?? '';
    for (const p of parts) {
      const expected = order === 'desc' ? count - lines : lines + 1;
      if (bad < 0 && Number(p) !== expected) bad = lines;
      lines++;
    }
  }
  expect(carry).toBe('');
  return { lines, bad };
}

beforeAll(async () => {
  const port = await freePort();
  redis = await startRedis(port, join(servers.workDir, `export-${port}`));
  runner = await startApp(servers, {
    redis: { port },
    runner: { log: (level, line) => logs.push(`${level}: ${line}`) },
  });
});

afterAll(async () => {
  await runner.stop();
  await redis.stop();
});

describe('GET /api/biglist/export', { timeout: 180_000 }, () => {
  it('answers 404 problem+json while nothing is published', async () => {
    await admin(redis.port, (c) => c.flushAll());
    const res = await api('GET', '/biglist/export');
    expect([res.status, res.body.code]).toEqual([404, 'list_not_found']);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect((await api('GET', '/biglist/export?order=sideways')).status).toBe(400);
  });

  it('streams every value of a 2,000,000-value list, newest first and oldest first', async () => {
    await load(2_000_000, 500_000);
    expect(await checkExport('desc', 2_000_000)).toEqual({ lines: 2_000_000, bad: -1 });
    expect(await checkExport('asc', 2_000_000)).toEqual({ lines: 2_000_000, bad: -1 });
  });

  it('keeps memory flat for a client that stops reading, and then delivers everything', async () => {
    const count = 30_000_000;
    await load(count, 1_000_000);
    const before = process.memoryUsage().rss;
    const res = await fetch(`${runner.url}/api/biglist/export`);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    const firstBytes = first.done ? new Uint8Array(0) : first.value;
    expect(new TextDecoder().decode(firstBytes).startsWith(`${count}\n`)).toBe(true);
    // Stop reading for a while: without back-pressure the export would pile the whole list up in memory.
    let peak = before;
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 100));
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    let bytes = firstBytes.length;
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      bytes += next.value.length;
    }
    // Text of 30M values is about 250 MB; what piled up while the client slept stays far below.
    expect(bytes).toBeGreaterThan(240_000_000);
    expect((peak - before) / 2 ** 20).toBeLessThan(120);
  });

  it('stops reading Redis when the client goes away', async () => {
    await load(3_000_000, 100_000);
    const dumps = async () =>
      Number(
        /cmdstat_dump:calls=(\d+)/.exec(await admin(redis.port, (c) => c.info('commandstats')))?.[1] ?? 0,
      );
    const start = await dumps();
    const abort = new AbortController();
    const res = await fetch(`${runner.url}/api/biglist/export`, { signal: abort.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    abort.abort();
    // The export ends (rather than waiting forever on a connection nobody reads)...
    await until('the export to end', () =>
      Promise.resolve(logs.find((l) => l.includes('exportBiglist failed: ReceiverGoneError'))),
    );
    const settled = await dumps();
    await new Promise((r) => setTimeout(r, 1000));
    // ...and the 30-segment list is not read to its end for nobody.
    expect(await dumps()).toBe(settled);
    expect(settled - start).toBeLessThan(10);
  });
});
