import type {} from 'vitest';
import type { TestProject } from 'vitest/node';

import { buildIfStale } from '../../scripts/buildIfStale.js';
import { startTestServers, type TestServers } from './servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    servers: TestServers;
  }
}

/**
 * Builds the app when a source changed since the last build (the runner serves dist/, so a test never runs
 * stale code), then starts real Redis servers and Azurite once for the whole run and stops them afterwards.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  buildIfStale();
  const { servers, stop } = await startTestServers();
  project.provide('servers', servers);
  return stop;
}
