// `npm start`: runs the app locally, starting whatever is missing (Azurite, a local Redis), then
// `func start` when Azure Functions Core Tools are installed, else the project's local runner.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { applyLocalSettings } from '../local-runner/hostConfig.js';
import { startLocalRunner } from '../local-runner/index.js';
import { ConfigError, parseConfig } from '../shared/config.js';
import { ensureError } from '../shared/errors.js';
import { type DevIssuer, startDevIssuer } from './devIssuer.js';
import { isListening, ROOT, startAzurite, startRedis } from './localServices.js';
import { seedCatalogue } from './seed.js';

// What this script started, stopped again when it ends.
const children: Array<{ stop: () => Promise<void>; child: ChildProcess }> = [];

function log(message: string): void {
  console.log(`start: ${message}`);
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Settings as `func start` sees them: the environment first, then local.settings.json Values. */
function loadSettings(): void {
  const file = join(ROOT, 'local.settings.json');
  if (!existsSync(file)) {
    copyFileSync(join(ROOT, 'local.settings.example.json'), file);
    log('created local.settings.json from local.settings.example.json (it is git-ignored)');
  }
  applyLocalSettings(ROOT);
}

async function ensureAzurite(): Promise<void> {
  const storage = process.env.AzureWebJobsStorage ?? '';
  if (storage !== 'UseDevelopmentStorage=true') return;
  if ((await isListening(10000)) && (await isListening(10001))) {
    log('Azurite (or another storage emulator) already listens on 10000/10001');
    return;
  }
  const dir = join(ROOT, '.tmp', 'azurite');
  mkdirSync(dir, { recursive: true });
  log('starting Azurite from node_modules (blob 10000, queue 10001, table 10002; data in .tmp/azurite)');
  children.push(
    await startAzurite(dir, { ports: { blob: 10000, queue: 10001, table: 10002 }, location: dir }),
  );
}

async function ensureRedis(): Promise<void> {
  if (process.env.REDIS_HOST) return;
  const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
  const host = url.hostname;
  const port = Number(url.port || 6379);
  if (await isListening(port, host)) {
    log(`Redis answers at ${host}:${String(port)}`);
    return;
  }
  const local = ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(host);
  if (!local || url.protocol !== 'redis:') {
    throw new Error(
      `Redis at ${url.host} is not reachable; start it or fix REDIS_URL in local.settings.json`,
    );
  }
  if (!onPath('redis-server')) {
    throw new Error(
      `nothing listens at ${host}:${String(port)} and redis-server is not installed: ` +
        `run ./scripts/setup.sh (Debian/Ubuntu), 'brew install redis' (macOS), or point REDIS_URL at a Redis you have`,
    );
  }
  const dir = join(ROOT, '.tmp', 'redis');
  log(`starting redis-server on 127.0.0.1:${String(port)} (data in .tmp/redis)`);
  // A snapshot now and then, so that local data survives a restart of `npm start`.
  children.push(await startRedis(port, dir, ['--save', '60 1000'], 'SIGTERM'));
}

// The audience of the development issuer's tokens (AUTH_AUDIENCE when npm start runs the issuer).
const DEV_AUDIENCE = 'api://azure-redis-cart-dev';
let devIssuer: DevIssuer | undefined;

/**
 * Sign-in out of the box: without an AUTH_ISSUER of your own, a development OpenID issuer (real ES256 tokens
 * for a typed name, optionally with the admin role) on DEV_ISSUER_PORT (7072; a free port when taken).
 */
async function ensureSignIn(): Promise<void> {
  if (process.env.AUTH_ISSUER) {
    log(`sign-in: tokens of ${process.env.AUTH_ISSUER} (AUTH_ISSUER)`);
    return;
  }
  const audience = process.env.AUTH_AUDIENCE || DEV_AUDIENCE;
  const port = Number(process.env.DEV_ISSUER_PORT ?? 7072);
  const adminRole = process.env.AUTH_ADMIN_ROLE || 'Cart.Admin';
  devIssuer = await startDevIssuer({ audience, port, adminRole }).catch(() =>
    startDevIssuer({ audience, port: 0, adminRole }),
  );
  process.env.AUTH_ISSUER = devIssuer.url;
  process.env.AUTH_AUDIENCE = audience;
  log(
    `sign-in: development OpenID issuer at ${devIssuer.url} (a development tool: a deployed app never runs it; set AUTH_ISSUER to use your own)`,
  );
}

// What runs the app (the local runner or func), stopped before the services it uses.
let app: { stop: () => Promise<void> } | undefined;
let stopping = false;
// A stop that takes longer than this (a hung child) ends the process anyway.
const STOP_LIMIT_MS = 8000;

/** Kills what is left at once and exits: a second signal, or a stop that took too long. */
function forceExit(code: number): never {
  for (const c of children) c.child.kill('SIGKILL');
  process.exit(code);
}

/**
 * Stops everything this script started (the app first, then Redis and Azurite), then exits. A second signal,
 * or a stop past STOP_LIMIT_MS, kills what is left: an IDE's or a process manager's stop always stops.
 */
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  setTimeout(() => forceExit(code), STOP_LIMIT_MS);
  await app?.stop().catch(() => undefined);
  await devIssuer?.stop().catch(() => undefined);
  await Promise.allSettled(children.map((c) => c.stop()));
  process.exit(code);
}

function onSignal(code: number): void {
  if (stopping) forceExit(code);
  void shutdown(code);
}

function validateSettings(): void {
  try {
    parseConfig(process.env);
  } catch (err) {
    // One line naming each bad variable, instead of a 500 from every route later.
    throw new Error(err instanceof ConfigError ? err.message : ensureError(err).message, { cause: err });
  }
}

async function main(): Promise<void> {
  loadSettings();
  validateSettings();
  await ensureSignIn();
  await ensureAzurite();
  await ensureRedis();
  if (onPath('func')) {
    log('Azure Functions Core Tools found: running func start');
    const func = spawn('func', ['start'], { stdio: 'inherit', cwd: ROOT });
    const exited = new Promise<void>((ok) => func.once('exit', () => ok()));
    app = {
      stop: async () => {
        func.kill('SIGTERM');
        await exited;
      },
    };
    func.on('exit', (code) => void shutdown(code ?? 0));
    return;
  }
  log(
    'Azure Functions Core Tools (func) not found: using the local runner (a development tool, not the Functions host)',
  );
  const runner = await startLocalRunner({ root: ROOT, port: Number(process.env.PORT ?? 7071) });
  app = runner;
  await seedCatalogue(
    runner.url,
    await devIssuer?.issue({ sub: 'dev-seed', roles: [process.env.AUTH_ADMIN_ROLE || 'Cart.Admin'] }),
  );
  log(`open ${runner.url}/api/app (storefront) and ${runner.url}/api/docs (API reference); Ctrl+C stops`);
}

process.on('SIGINT', () => onSignal(130));
process.on('SIGTERM', () => onSignal(143));
process.on('SIGHUP', () => onSignal(129));
// npm passes a signal on to this process; if npm itself is killed outright, nothing would, so the loss of
// the parent stops everything too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void shutdown(0);
}, 500).unref();

main().catch((err: unknown) => {
  // A step cut short by a stop already under way (the seeding, say) is no failure of its own.
  if (stopping) return;
  console.error(`start: ${ensureError(err).message}`);
  void shutdown(1);
});
