import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

import { createClient } from 'redis';

import { ROOT, waitForPort } from '../scripts/localServices.js';

/** Starts a compiled script in its own Node process (so it gets its own core) and waits for its port. */
export async function startNode(
  script: string,
  port: number,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeArgs, resolve(ROOT, 'dist', script)], {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitForPort(port, 30_000);
  return child;
}

/** Stops a child process and waits for it to exit. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  child.kill('SIGTERM');
  await exited;
}

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** Prints rows as an aligned text table. */
export function printTable(header: string[], rows: Array<Array<string | number>>): void {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of cells.slice(1)) console.log(line(r));
}

/** Seeds what the GET cart benchmarks read: 20 SKUs and user `bench`'s cart of all of them, as the API leaves them. */
export async function seedBenchCart(port: number): Promise<void> {
  const seed = await createClient({ socket: { host: '127.0.0.1', port } }).connect();
  const skuIds = Array.from({ length: 20 }, (_, i) => `bench-sku-${String(i).padStart(2, '0')}`);
  for (const [i, id] of skuIds.entries())
    await seed.hSet(`sku:${id}`, { name: `Item ${i}`, price: `${i + 1}.99` });
  // As POST /users leaves a user: generation 1, which owns the cart.
  await seed.hSet('user:bench', { first_name: 'Bench', last_name: 'Mark' });
  await seed.set('{user:bench}:generation', '1');
  await seed.hSet('{cart:bench}:owner', { next: '1', live: '1' });
  await seed.hSet('cart:bench', Object.fromEntries(skuIds.map((id) => [id, '2'])));
  seed.destroy();
}
