// Where the CPU of a GET cart goes in the process that runs the functions (the local runner, HTTP streaming
// on), next to the plain server of bench:hop as the baseline of the same run: each is started with
// --cpu-prof, loaded with autocannon, stopped, and the profile's self time is grouped by layer (the
// runner's hop, @azure/functions, node:http, node-redis, the app's code, garbage collection, ...).
// Reproduce: npm run bench:hop:profile
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import autocannon from 'autocannon';

import { freePort, startRedis } from '../scripts/localServices.js';
import { printTable, seedBenchCart, startNode, stop } from './support.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

// First match wins: the layer a function's own time is charged to, by its script URL (or its name).
const LAYERS: Array<[string, (url: string, name: string) => boolean]> = [
  ['garbage collection', (_u, n) => n === '(garbage collector)'],
  ['idle (waiting for I/O)', (_u, n) => n === '(idle)'],
  ['V8, not attributed to a script ((program))', (_u, n) => n === '(program)'],
  ['local runner: the hop (local-runner/)', (u) => u.includes('/dist/local-runner/')],
  ['app: HTTP layer (shared/http, functions/)', (u) => /\/dist\/(shared\/http|functions)\//.test(u)],
  ['app: telemetry hooks', (u) => u.includes('/dist/shared/telemetry/')],
  ['app: services, stores, config (shared/)', (u) => u.includes('/dist/shared/')],
  ['@azure/functions (HttpRequest, its HTTP server)', (u) => u.includes('/@azure/functions/')],
  ['undici (Request/Headers/body of @azure/functions)', (u) => u.includes('undici')],
  ['node-redis (commands, RESP parser)', (u) => /\/@redis\/|\/node_modules\/redis\//.test(u)],
  ['zod (validation)', (u) => u.includes('/zod/')],
  ["the plain server's own code (bench/)", (u) => u.includes('/dist/bench/')],
  ['node: http, net, streams', (u) => /^node:(_?http|net|internal\/(http|streams|net|stream_base))/.test(u)],
  ['node: other internals', (u) => u.startsWith('node:')],
  ['other modules', (u) => u.includes('node_modules')],
  ['V8 / native (no script)', () => true],
];

/**
 * Self time (µs) per layer, from a V8 CPU profile. A native function (a socket write, JSON.parse, a
 * builtin: no script URL) is charged to the nearest caller that has one: the layer that asked for it.
 */
function layers(profile: Profile): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const charged = (id: number): ProfileNode | undefined => {
    let node = byId.get(id);
    if (node && /^\(.*\)$/.test(node.callFrame.functionName)) return node;
    while (node && !node.callFrame.url) node = byId.get(parent.get(node.id) ?? -1);
    return node ?? byId.get(id);
  };
  const out = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = charged(id);
    if (!node) return;
    const { url, functionName } = node.callFrame;
    const layer = LAYERS.find(([, test]) => test(url, functionName))?.[0] ?? 'other';
    out.set(layer, (out.get(layer) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return out;
}

/** Runs `script` under `--cpu-prof` with autocannon (a warm-up, then the measured load); its self time by layer and its request count. */
async function profiled(
  script: string,
  redisPort: number,
  env: Record<string, string>,
): Promise<{ self: Map<string, number>; requests: number; file: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cpuprof-'));
  const port = await freePort();
  const child = await startNode(script, port, { REDIS_URL: `redis://127.0.0.1:${redisPort}`, ...env }, [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
  ]);
  let requests: number;
  try {
    const url = `http://127.0.0.1:${port}/api/carts/bench`;
    const warm = await autocannon({ url, connections: 8, duration: 2 });
    const r = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S });
    // The profile covers the warm-up too: its requests count.
    requests = warm.requests.total + r.requests.total;
  } finally {
    await stop(child);
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile written in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  return { self: layers(profile), requests, file: join(dir, file) };
}

const redisPort = await freePort();
const redis = await startRedis(redisPort, mkdtempSync(join(tmpdir(), 'bench-profile-')));
await seedBenchCart(redisPort);
let plain: Awaited<ReturnType<typeof profiled>>;
let runner: Awaited<ReturnType<typeof profiled>>;
try {
  plain = await profiled('bench/plainCartServer.js', redisPort, {});
  runner = await profiled('local-runner/serve.js', redisPort, {
    LOCAL_RUNNER_LOG_LEVEL: 'warning',
    AzureWebJobsStorage: '',
  });
} finally {
  await redis.stop();
}

const busyOf = (self: Map<string, number>) =>
  [...self].filter(([k]) => !k.startsWith('idle')).reduce((a, [, v]) => a + v, 0);
const perRequest = (r: typeof plain, v: number | undefined) => (v ?? 0) / Math.max(1, r.requests);
const busy = busyOf(runner.self);
const names = [...new Set([...runner.self.keys(), ...plain.self.keys()])].filter(
  (k) => !k.startsWith('idle'),
);
const rows = names
  .sort((a, b) => (runner.self.get(b) ?? 0) - (runner.self.get(a) ?? 0))
  .map((k) => [
    k,
    `${((100 * (runner.self.get(k) ?? 0)) / busy).toFixed(1)} %`,
    perRequest(runner, runner.self.get(k)).toFixed(1),
    perRequest(plain, plain.self.get(k)).toFixed(1),
  ]);
rows.push([
  'all busy time (main thread)',
  '100 %',
  perRequest(runner, busy).toFixed(1),
  perRequest(plain, busyOf(plain.self)).toFixed(1),
]);
console.log(
  `\nGET /api/carts/{userId} (20 lines), ${CONNECTIONS} connections, ${DURATION_S} s plus 2 s warm-up under the profiler: the local runner (${runner.requests} requests) and the plain server (${plain.requests}); self time of each serving process's main thread by layer\n`,
);
printTable(['layer', 'runner: share of busy', 'runner µs/request', 'plain server µs/request'], rows);
console.log(`\nProfiles: ${runner.file} and ${plain.file} (open in Chrome DevTools or speedscope)`);
console.log('Reproduce: npm run bench:hop:profile');
