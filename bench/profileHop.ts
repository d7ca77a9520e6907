// Where the CPU of a GET cart goes in the process that runs the functions (the local runner, HTTP streaming
// on): the runner is started with --cpu-prof, loaded with autocannon, stopped, and the profile's self time
// is grouped by layer (the runner's hop, @azure/functions, node:http, node-redis, the app's code, garbage
// collection, ...). Reproduce: npm run bench:hop:profile
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

const redisPort = await freePort();
const redis = await startRedis(redisPort, mkdtempSync(join(tmpdir(), 'bench-profile-')));
await seedBenchCart(redisPort);

const dir = mkdtempSync(join(tmpdir(), 'bench-cpuprof-'));
const port = await freePort();
const child = await startNode(
  'local-runner/serve.js',
  port,
  { REDIS_URL: `redis://127.0.0.1:${redisPort}`, LOCAL_RUNNER_LOG_LEVEL: 'warning', AzureWebJobsStorage: '' },
  ['--cpu-prof', `--cpu-prof-dir=${dir}`],
);
let requests = 0;
try {
  const url = `http://127.0.0.1:${port}/api/carts/bench`;
  await autocannon({ url, connections: 8, duration: 2 });
  const r = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S });
  requests = r.requests.total;
} finally {
  await stop(child);
  await redis.stop();
}
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no profile written in ${dir}`);
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
const self = layers(profile);
const busy = [...self].filter(([k]) => !k.startsWith('idle')).reduce((a, [, v]) => a + v, 0);
const rows = [...self]
  .sort((a, b) => b[1] - a[1])
  .map(([k, v]) => [
    k,
    k.startsWith('idle') ? '-' : `${((100 * v) / busy).toFixed(1)} %`,
    k.startsWith('idle') ? '-' : (v / Math.max(1, requests)).toFixed(1),
  ]);
console.log(
  `\nGET /api/carts/{userId} (20 lines) through the local runner, ${CONNECTIONS} connections, ${DURATION_S} s (plus 2 s warm-up), ${requests} requests; self time of the serving process by layer\n`,
);
printTable(['layer', 'share of busy CPU', 'µs per request'], rows);
console.log(`\nProfile: ${join(dir, file)} (open in Chrome DevTools or speedscope for the flame graph)`);
console.log('Reproduce: npm run bench:hop:profile');
