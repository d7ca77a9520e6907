// The local services the app needs, started the same way by `npm start`, the tests and the benchmarks:
// port probing, redis-server, and Azurite from node_modules.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { join, resolve } from 'node:path';

/** The project folder, from the compiled dist/scripts or from scripts. */
export const ROOT = resolve(import.meta.dirname, import.meta.dirname.includes('/dist/') ? '../..' : '..');

/** True when something accepts TCP connections at host:port. */
export function isListening(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
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

/** Resolves once something accepts TCP connections at host:port, or rejects after the timeout. */
export async function waitForPort(port: number, timeoutMs = 15_000, host = '127.0.0.1'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await isListening(port, host))) {
    if (Date.now() > until) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const srv = createServer();
    srv.once('error', () => ok(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => ok(true)));
  });
}

/** A free TCP port on 127.0.0.1 (and, when asked, its cluster-bus twin at +10000). */
export async function freePort(withBus = false): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((ok, fail) => {
      const srv = createServer();
      srv.once('error', fail);
      srv.listen(0, '127.0.0.1', () => {
        const address = srv.address();
        srv.close(() => ok(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (!withBus || (port < 55000 && (await bindable(port + 10000)))) return port;
  }
}

/** A child process started here, and how to stop it. */
export interface LocalProcess {
  port: number;
  child: ChildProcess;
  stop: () => Promise<void>;
}

function stopper(child: ChildProcess, signal: NodeJS.Signals): () => Promise<void> {
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  return async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
}

/**
 * Starts redis-server in the foreground on 127.0.0.1:port, its files in `dir`, with extra arguments; no
 * snapshots unless `extra` asks for them. Resolves once it accepts connections. `stop` kills it (tests), or
 * with SIGTERM lets it save its snapshot first (`npm start`).
 */
export async function startRedis(
  port: number,
  dir: string,
  extra: string[] = [],
  stopSignal: NodeJS.Signals = 'SIGKILL',
): Promise<LocalProcess> {
  mkdirSync(dir, { recursive: true });
  const args = [
    ...['--bind', '127.0.0.1', '--port', String(port), '--dir', dir],
    ...['--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', join(dir, 'redis.log')],
    ...extra,
  ];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const failed = new Promise<never>((_, fail) =>
    child.once('error', (e) => fail(new Error(`cannot start redis-server (is it installed?): ${e.message}`))),
  );
  const proc = { port, child, stop: stopper(child, stopSignal) };
  await Promise.race([waitForPort(port), failed]);
  return proc;
}

/** A running Azurite. */
export interface AzuriteProcess {
  child: ChildProcess;
  blobPort: number;
  queuePort: number;
  connectionString: string;
  stop: () => Promise<void>;
}

/**
 * Starts Azurite from node_modules on loopback, without telemetry: in memory on free ports by default, or
 * on the given ports with its data in `location` (what `npm start` does). Resolves once blob and queue
 * accept connections.
 */
export async function startAzurite(
  cwd: string,
  options: { ports?: { blob: number; queue: number; table: number }; location?: string } = {},
): Promise<AzuriteProcess> {
  const ports = options.ports ?? { blob: await freePort(), queue: await freePort(), table: await freePort() };
  const bind = (service: string, port: number) => [
    `--${service}Host`,
    '127.0.0.1',
    `--${service}Port`,
    String(port),
  ];
  const child = spawn(
    join(ROOT, 'node_modules', '.bin', 'azurite'),
    [
      ...['--silent', '--disableTelemetry', '--skipApiVersionCheck'],
      // Azurite refuses --inMemoryPersistence together with --location.
      ...(options.location ? ['--location', options.location] : ['--inMemoryPersistence']),
      ...bind('blob', ports.blob),
      ...bind('queue', ports.queue),
      ...bind('table', ports.table),
    ],
    { stdio: 'ignore', cwd },
  );
  const stop = stopper(child, 'SIGTERM');
  try {
    await Promise.all([waitForPort(ports.blob, 30_000), waitForPort(ports.queue, 30_000)]);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    child,
    blobPort: ports.blob,
    queuePort: ports.queue,
    connectionString: azuriteConnectionString(ports.blob, ports.queue),
    stop,
  };
}

/** Azurite's documented development account, pointed at the given ports. */
export function azuriteConnectionString(blobPort: number, queuePort: number): string {
  // The well-known devstoreaccount1 key is public (Azurite and the Azure docs publish it); not a secret.
  const key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
  return [
    'DefaultEndpointsProtocol=http',
    'AccountName=devstoreaccount1',
    `AccountKey=${key}`,
    `BlobEndpoint=http://127.0.0.1:${blobPort}/devstoreaccount1`,
    `QueueEndpoint=http://127.0.0.1:${queuePort}/devstoreaccount1`,
  ].join(';');
}
