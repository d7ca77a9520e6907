// `npm start`: runs the app locally, starting whatever is missing (Azurite, a local Redis), then
// `func start` when Azure Functions Core Tools are installed, else the project's local runner.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { applyLocalSettings } from '../local-runner/hostConfig.js';
import { startLocalRunner } from '../local-runner/index.js';
import { isListening, ROOT, startAzurite, startRedis } from './localServices.js';

// What this script started, stopped again when it ends.
const children: Array<{ stop: () => Promise<void> }> = [];

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
  children.push(await startRedis(port, dir, ['--save', '60 1000']));
}

function stopChildren(): void {
  for (const c of children) void c.stop();
}

async function main(): Promise<void> {
  loadSettings();
  await ensureAzurite();
  await ensureRedis();
  if (onPath('func')) {
    log('Azure Functions Core Tools found: running func start');
    const func = spawn('func', ['start'], { stdio: 'inherit', cwd: ROOT });
    func.on('exit', (code) => {
      stopChildren();
      process.exit(code ?? 0);
    });
    return;
  }
  log(
    'Azure Functions Core Tools (func) not found: using the local runner (a development tool, not the Functions host)',
  );
  const runner = await startLocalRunner({ root: ROOT, port: Number(process.env.PORT ?? 7071) });
  log(`try: curl ${runner.url}/api/health`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(signal);
    process.once(signal, () => {
      void runner.stop().finally(() => {
        stopChildren();
        process.exit(0);
      });
    });
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopChildren();
    process.exit(130);
  });
}

main().catch((err: unknown) => {
  console.error(`start: ${err instanceof Error ? err.message : String(err)}`);
  stopChildren();
  process.exit(1);
});
