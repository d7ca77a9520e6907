// Starts real servers on loopback for the tests: redis-server (plain, TLS, cluster) and Azurite.
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { QueueServiceClient } from '@azure/storage-queue';

import { freePort, ROOT, startAzurite, startRedis } from '../../scripts/localServices.js';

// The local services themselves are started by scripts/localServices.ts, as `npm start` starts them.
export {
  azuriteConnectionString,
  freePort,
  type LocalProcess as RedisProcess,
  startAzurite,
  startRedis,
  waitForPort,
} from '../../scripts/localServices.js';

const run = promisify(execFile);

/** Addresses and files the tests need, handed to them by the global setup. */
export interface TestServers {
  standalone: { port: number };
  tls: { port: number; adminPort: number; caFile: string; wrongCaFile: string };
  cluster: { ports: number[]; tlsPorts: number[]; caFile: string };
  azurite: { blobPort: number; queuePort: number; connectionString: string };
  workDir: string;
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

/** Creates each queue on Azurite if needed and empties it; returns a client for the account. */
export async function emptyQueues(connectionString: string, names: string[]): Promise<QueueServiceClient> {
  const queues = QueueServiceClient.fromConnectionString(connectionString);
  for (const q of names) {
    await queues.getQueueClient(q).createIfNotExists();
    await queues.getQueueClient(q).clearMessages();
  }
  return queues;
}
