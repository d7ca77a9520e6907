// Starts real servers on loopback for the tests: redis-server (plain, TLS, cluster) and Azurite.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { QueueServiceClient } from '@azure/storage-queue';

const run = promisify(execFile);
// From test/support, or from dist/test/support when a compiled benchmark imports this file.
const ROOT = resolve(import.meta.dirname, import.meta.dirname.includes('/dist/') ? '../../..' : '../..');

/** Addresses and files the tests need, handed to them by the global setup. */
export interface TestServers {
  standalone: { port: number };
  tls: { port: number; adminPort: number; caFile: string; wrongCaFile: string };
  cluster: { ports: number[]; tlsPorts: number[]; caFile: string };
  azurite: { blobPort: number; queuePort: number; connectionString: string };
  workDir: string;
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
    if (!withBus || (port < 55000 && (await isFree(port + 10000)))) return port;
  }
}

async function isFree(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const srv = createServer();
    srv.once('error', () => ok(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => ok(true)));
  });
}

/** Resolves once something accepts TCP connections on the port, or rejects after the timeout. */
export async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const s = new Socket();
      const finish = (result: boolean) => {
        s.destroy();
        done(result);
      };
      s.once('connect', () => {
        finish(true);
      });
      s.once('error', () => {
        finish(false);
      });
      s.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A redis-server child process with the arguments it was started with. */
export interface RedisProcess {
  port: number;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** Starts redis-server in the foreground on 127.0.0.1 with the given extra arguments. */
export async function startRedis(port: number, dir: string, extra: string[] = []): Promise<RedisProcess> {
  mkdirSync(dir, { recursive: true });
  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--logfile',
    join(dir, 'redis.log'),
    ...extra,
  ];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const failed = new Promise<never>((_, fail) =>
    child.once('error', (e) => fail(new Error(`cannot start redis-server (is it installed?): ${e.message}`))),
  );
  await Promise.race([waitForPort(port), failed]);
  return {
    port,
    child,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Makes a CA and a server certificate for `names` (DNS or IP SANs) with the openssl CLI. */
export async function makeCertificates(
  dir: string,
  names: string[],
  prefix: string,
): Promise<{ ca: string; cert: string; key: string }> {
  mkdirSync(dir, { recursive: true });
  const f = (n: string) => join(dir, `${prefix}-${n}`);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    `/CN=${prefix} test CA`,
  ]);
  await run('openssl', [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
    '-subj',
    `/CN=${names[0] ?? 'localhost'}`,
  ]);
  const san = names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  writeFileSync(f('ext.cnf'), `subjectAltName=${san}\n`);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.crt'),
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
  ]);
  return { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}

/** Starts every server the suite needs; returns their addresses and a stop function. */
export async function startTestServers(): Promise<{ servers: TestServers; stop: () => Promise<void> }> {
  const workDir = join(ROOT, '.tmp', `servers-${process.pid}`);
  mkdirSync(workDir, { recursive: true });
  const stoppers: Array<() => Promise<void>> = [];
  const stop = async () => {
    await Promise.allSettled(stoppers.map((s) => s()));
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    // The standalone TLS server's certificate names 127.0.0.1 and localhost; the cluster's names
    // only localhost, as AMR's names only its host, so reaching it by IP needs nodeAddressMap.
    const [direct, clusterCerts, wrong] = await Promise.all([
      makeCertificates(workDir, ['localhost', '127.0.0.1'], 'tls'),
      makeCertificates(workDir, ['localhost'], 'cluster'),
      makeCertificates(workDir, ['localhost', '127.0.0.1'], 'wrong'),
    ]);

    const standalonePort = await freePort();
    const standalone = await startRedis(standalonePort, join(workDir, 'standalone'));
    stoppers.push(standalone.stop);

    const tlsPort = await freePort();
    // The plain port is for the tests' own admin commands; the app under test uses the TLS port.
    const tlsAdminPort = await freePort();
    const tls = await startRedis(tlsAdminPort, join(workDir, 'tls'), [
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      direct.cert,
      '--tls-key-file',
      direct.key,
      '--tls-ca-cert-file',
      direct.ca,
      '--tls-auth-clients',
      'no',
    ]);
    stoppers.push(tls.stop);

    const ports: number[] = [];
    const tlsPorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      ports.push(await freePort());
      // With tls-cluster the bus listens at the TLS port + 10000.
      tlsPorts.push(await freePort(true));
    }
    const nodes = await Promise.all(
      ports.map((p, i) =>
        startRedis(p, join(workDir, `cluster-${p}`), [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(workDir, `cluster-${p}`, 'nodes.conf'),
          '--cluster-node-timeout',
          '3000',
          '--tls-port',
          String(tlsPorts[i]),
          '--tls-cert-file',
          clusterCerts.cert,
          '--tls-key-file',
          clusterCerts.key,
          '--tls-ca-cert-file',
          clusterCerts.ca,
          '--tls-auth-clients',
          'no',
          // Shards then advertise TLS ports to TLS clients and plain ports to plain ones.
          '--tls-cluster',
          'yes',
        ]),
      ),
    );
    stoppers.push(...nodes.map((n) => n.stop));
    await run('redis-cli', [
      '--tls',
      '--cacert',
      clusterCerts.ca,
      '--sni',
      'localhost',
      '--cluster',
      'create',
      ...tlsPorts.map((p) => `127.0.0.1:${p}`),
      '--cluster-yes',
    ]);
    await waitForClusterOk(ports);

    const azurite = await startAzurite(workDir);
    stoppers.push(azurite.stop);

    return {
      servers: {
        standalone: { port: standalone.port },
        tls: { port: tlsPort, adminPort: tlsAdminPort, caFile: direct.ca, wrongCaFile: wrong.ca },
        cluster: { ports, tlsPorts, caFile: clusterCerts.ca },
        azurite: {
          blobPort: azurite.blobPort,
          queuePort: azurite.queuePort,
          connectionString: azurite.connectionString,
        },
        workDir,
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A running Azurite on free loopback ports, in memory, without telemetry. */
export interface AzuriteProcess {
  blobPort: number;
  queuePort: number;
  connectionString: string;
  stop: () => Promise<void>;
}

/** Starts Azurite from node_modules on free loopback ports and waits for its blob and queue services. */
export async function startAzurite(cwd: string): Promise<AzuriteProcess> {
  const [blobPort, queuePort, tablePort] = [await freePort(), await freePort(), await freePort()];
  const bind = (service: string, port: number) => [
    `--${service}Host`,
    '127.0.0.1',
    `--${service}Port`,
    String(port),
  ];
  const child = spawn(
    join(ROOT, 'node_modules', '.bin', 'azurite'),
    [
      '--silent',
      '--inMemoryPersistence',
      '--disableTelemetry',
      '--skipApiVersionCheck',
      ...bind('blob', blobPort),
      ...bind('queue', queuePort),
      ...bind('table', tablePort),
    ],
    { stdio: 'ignore', cwd },
  );
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    await Promise.all([waitForPort(blobPort, 30_000), waitForPort(queuePort, 30_000)]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { blobPort, queuePort, connectionString: azuriteConnectionString(blobPort, queuePort), stop };
}

async function waitForClusterOk(ports: number[]): Promise<void> {
  const until = Date.now() + 20_000;
  for (;;) {
    const states = await Promise.all(
      ports.map(async (p) => (await run('redis-cli', ['-p', String(p), 'cluster', 'info'])).stdout),
    );
    if (states.every((s) => s.includes('cluster_state:ok'))) return;
    if (Date.now() > until) throw new Error('Redis cluster did not reach cluster_state:ok');
    await new Promise((r) => setTimeout(r, 100));
  }
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

/** Creates each queue on Azurite if needed and empties it; returns a client for the account. */
export async function emptyQueues(connectionString: string, names: string[]): Promise<QueueServiceClient> {
  const queues = QueueServiceClient.fromConnectionString(connectionString);
  for (const q of names) {
    await queues.getQueueClient(q).createIfNotExists();
    await queues.getQueueClient(q).clearMessages();
  }
  return queues;
}
