// `npm start`: runs the app locally, starting whatever is missing (Azurite, a local Redis), then
// `func start` when Azure Functions Core Tools are installed, else the project's local runner.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { applyLocalSettings } from './runner/hostConfig.js';
import { startLocalRunner } from './runner/index.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const children: ChildProcess[] = [];

function log(message: string): void {
  console.log(`start: ${message}`);
}

function reachable(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((done) => {
    const s = new Socket();
    const finish = (ok: boolean) => {
      s.destroy();
      done(ok);
    };
    s.setTimeout(timeoutMs, () => {
      finish(false);
    });
    s.once('connect', () => {
      finish(true);
    });
    s.once('error', () => {
      finish(false);
    });
    s.connect(port, host);
  });
}

async function waitFor(host: string, port: number, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await reachable(host, port))) {
    if (Date.now() > until) throw new Error(`${what} did not start listening on ${host}:${String(port)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
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
  if ((await reachable('127.0.0.1', 10000)) && (await reachable('127.0.0.1', 10001))) {
    log('Azurite (or another storage emulator) already listens on 10000/10001');
    return;
  }
  const dir = join(ROOT, '.tmp', 'azurite');
  mkdirSync(dir, { recursive: true });
  log('starting Azurite from node_modules (blob 10000, queue 10001, table 10002; data in .tmp/azurite)');
  children.push(
    spawn(
      join(ROOT, 'node_modules', '.bin', 'azurite'),
      ['--silent', '--disableTelemetry', '--skipApiVersionCheck', '--location', dir],
      { stdio: 'inherit' },
    ),
  );
  await waitFor('127.0.0.1', 10001, 'Azurite');
}

async function ensureRedis(): Promise<void> {
  if (process.env.REDIS_HOST) return;
  const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
  const host = url.hostname;
  const port = Number(url.port || 6379);
  if (await reachable(host, port)) {
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
  mkdirSync(dir, { recursive: true });
  log(`starting redis-server on 127.0.0.1:${String(port)} (data in .tmp/redis)`);
  children.push(
    spawn(
      'redis-server',
      ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '60 1000'],
      {
        stdio: 'ignore',
      },
    ),
  );
  await waitFor('127.0.0.1', port, 'redis-server');
}

function stopChildren(): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}

async function main(): Promise<void> {
  loadSettings();
  await ensureAzurite();
  await ensureRedis();
  if (onPath('func')) {
    log('Azure Functions Core Tools found: running func start');
    const func = spawn('func', ['start'], { stdio: 'inherit', cwd: ROOT });
    children.push(func);
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
