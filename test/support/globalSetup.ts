import type {} from 'vitest';
import type { TestProject } from 'vitest/node';

import { buildIfStale } from '../../scripts/buildIfStale.js';
import { startTestServers, type TestServers } from './servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    servers: TestServers;
  }
}

// Each project that needs servers runs this setup, and vitest loads it anew for each: the set is kept on
// the main process's globalThis, so the first project starts it, the others share it, the last stops it.
interface Shared {
  started: Promise<{ servers: TestServers; stop: () => Promise<void> }>;
  users: number;
}
const SHARED = Symbol.for('azure-redis-cart.test-servers');
const registry = globalThis as { [SHARED]?: Shared };

/**
 * Builds the app when a source changed since the last build (the runner serves dist/, so a test never runs
 * stale code), then starts real Redis servers and Azurite once for the whole run and stops them afterwards.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shared = (registry[SHARED] ??= {
    started: (async () => {
      buildIfStale();
      return startTestServers();
    })(),
    users: 0,
  });
  shared.users++;
  const { servers, stop } = await shared.started;
  project.provide('servers', servers);
  return async () => {
    if (--shared.users > 0) return;
    registry[SHARED] = undefined;
    await stop();
  };
}
