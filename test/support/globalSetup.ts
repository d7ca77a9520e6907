import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startTestServers, type TestServers } from './servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    servers: TestServers;
  }
}

/** Starts real Redis servers and Azurite once for the whole run, and stops them afterwards. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { servers, stop } = await startTestServers();
  project.provide('servers', servers);
  return stop;
}
