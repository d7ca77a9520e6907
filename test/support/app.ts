// The one way tests start an app in the local runner: its settings, a clean slate, and the runner itself.
import { resolve } from 'node:path';

import { type Runner, type RunnerOptions, startLocalRunner } from '../../local-runner/index.js';
import { admin } from './redis.js';
import { emptyQueues, type TestServers } from './servers.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const LOADER_QUEUES = ['biglist-segments', 'biglist-segments-poison'];

/** How to start the app for a test. */
export interface AppOptions {
  /** The function key the runner asks for (LOCAL_RUNNER_FUNCTION_KEY); none by default: every route is open. */
  key?: string;
  /** Its Redis: the test Redis (default), the test cluster, or another one (a proxy, a cluster of its own). */
  redis?: 'cluster' | { port: number; cluster?: boolean };
  /** Its AzureWebJobsStorage (default: the test Azurite). */
  storage?: string;
  /** Further settings of this app (REDIS_DEADLINE_MS, AUTH_ISSUER...). */
  env?: Record<string, string>;
  /** Flush its Redis and empty the loader's queues first (default: true). */
  clean?: boolean;
  /** Runner options: another app folder (a fixture), where logs go, limits. */
  runner?: Partial<RunnerOptions>;
}

/**
 * Starts the app (or a fixture app) in the local runner with exactly the settings given; stopping the
 * runner puts every setting it changed back as it was.
 */
export async function startApp(servers: TestServers, options: AppOptions = {}): Promise<Runner> {
  const redis = options.redis ?? { port: servers.standalone.port };
  const cluster = redis === 'cluster' || redis.cluster === true;
  const ports = redis === 'cluster' ? servers.cluster.ports : [redis.port];
  if (options.clean ?? true) {
    for (const port of ports) await admin(port, (c) => c.flushAll());
    await emptyQueues(servers.azurite.connectionString, LOADER_QUEUES);
  }
  const settings: Record<string, string> = {
    REDIS_URL: `redis://127.0.0.1:${ports[0] ?? 0}`,
    REDIS_CLUSTER: String(cluster),
    AzureWebJobsStorage: options.storage ?? servers.azurite.connectionString,
    ...(options.key === undefined ? {} : { LOCAL_RUNNER_FUNCTION_KEY: options.key }),
    ...options.env,
  };
  const restore = setEnv(settings);
  try {
    // Quiet unless the test reads the logs itself.
    const quiet = options.runner?.log ? {} : { logLevel: 'critical' };
    const runner = await startLocalRunner({ root: ROOT, port: 0, ...quiet, ...options.runner });
    const stop = runner.stop.bind(runner);
    return {
      ...runner,
      stop: async () => {
        await stop();
        restore();
      },
    };
  } catch (err) {
    restore();
    throw err;
  }
}

/** Sets environment variables; returns what puts them back as they were. */
function setEnv(settings: Record<string, string>): () => void {
  const before = Object.fromEntries(Object.keys(settings).map((k) => [k, process.env[k]]));
  Object.assign(process.env, settings);
  return () => {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) Reflect.deleteProperty(process.env, k);
      else process.env[k] = v;
    }
  };
}
