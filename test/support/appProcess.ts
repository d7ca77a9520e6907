// Starts the compiled app in a local runner of its own process, as a second app instance: its own Redis
// client, its own module state, racing the others against the same Redis.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { freePort, ROOT, waitForPort } from '../../scripts/localServices.js';

/** An app instance in its own process. */
export interface AppProcess {
  url: string;
  stop: () => Promise<void>;
}

/** Runs `node dist/local-runner/serve.js` with the given settings on a free port; resolves once it listens. */
export async function startAppProcess(env: Record<string, string>): Promise<AppProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'local-runner', 'serve.js')], {
    env: { ...process.env, ...env, PORT: String(port), LOG_LEVEL: 'critical' },
    stdio: 'ignore',
  });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  await Promise.race([
    waitForPort(port, 30_000),
    exited.then(() => Promise.reject(new Error('the app process exited before it listened'))),
  ]);
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
