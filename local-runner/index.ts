// A development and test host for this Functions app: serves its HTTP functions and runs its queue
// triggers without Azure Functions Core Tools. Production runs on the Azure Functions host.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { glob } from 'tinyglobby';

import {
  initProgrammingModel,
  installCoreModule,
  type LogSink,
  registeredFunctions,
  runAppStart,
  runAppTerminate,
} from './core.js';
import { applyLocalSettings, type HostSettings, readHostSettings } from './hostConfig.js';
import { withAppServer } from './httpProxy.js';
import { httpListener, httpRoutes } from './httpServer.js';
import { QueueBindings } from './queues.js';

/** How to start the runner. */
export interface RunnerOptions {
  /** The app folder (with package.json, host.json and the compiled files `main` names). */
  root: string;
  port?: number;
  host?: string;
  /** Lowest level printed: trace, debug, information, warning, error. */
  logLevel?: string;
  /** Receives every log line instead of the console (tests read the runner's logs this way). */
  log?: LogSink;
  /** Overrides of host.json's queue settings (tests shorten retry delays this way). */
  queues?: Partial<HostSettings['queues']>;
  /** Largest request body accepted; larger ones are refused with 413 as they stream in. */
  maxBodyBytes?: number;
}

/** A running local host. */
export interface Runner {
  url: string;
  port: number;
  functions: string[];
  /** Names of the HTTP-triggered functions. */
  httpFunctions: string[];
  stop(): Promise<void>;
}

const LEVELS = ['trace', 'debug', 'information', 'warning', 'error', 'critical'];
// The Functions host takes up to 100 MB; a development host has no reason to hold that much per request.
const DEFAULT_MAX_BODY = 4 * 1024 * 1024;
// How long stopping waits for requests in progress before cutting their connections.
const STOP_GRACE_MS = 5000;
// The app, once loaded: its capabilities and, when it enabled HTTP streaming, its own HTTP server.
let loaded: Promise<{ value: Record<string, string>; server?: Server }> | undefined;

function sinkFor(level: string): LogSink {
  const min = Math.max(0, LEVELS.indexOf(level));
  return (lvl, message) => {
    if (LEVELS.indexOf(lvl) < min) return;
    const line = `[${new Date().toISOString()}] ${lvl}: ${message}`;
    if (lvl === 'error' || lvl === 'critical') console.error(line);
    else console.log(line);
  };
}

/** Imports every file package.json `main` names, as the worker does; once per process. */
async function loadApp(root: string): Promise<void> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main?: string };
  if (!pkg.main) throw new Error('package.json has no "main": the worker would find no functions');
  const files = (await glob(pkg.main, { cwd: root, absolute: true })).sort();
  if (files.length === 0)
    throw new Error(`package.json main "${pkg.main}" matches no file: run npm run build first`);
  for (const file of files) await import(pathToFileURL(file).href);
}

/** Loads the app and starts serving it; resolves once the HTTP port is listening. */
export async function startLocalRunner(options: RunnerOptions): Promise<Runner> {
  const { root } = options;
  applyLocalSettings(root);
  const log = options.log ?? sinkFor(options.logLevel ?? process.env.LOCAL_RUNNER_LOG_LEVEL ?? 'information');
  const hostSettings = readHostSettings(root);
  const settings = { ...hostSettings, queues: { ...hostSettings.queues, ...options.queues } };
  const maxBodyBytes =
    options.maxBodyBytes ?? Number(process.env.LOCAL_RUNNER_MAX_BODY_BYTES ?? DEFAULT_MAX_BODY);
  installCoreModule(log);
  loaded ??= loadApp(root).then(() => withAppServer(initProgrammingModel));
  const { value: capabilities, server: appServer } = await loaded;
  if (capabilities.HttpUri && !appServer)
    throw new Error('the app enabled HTTP streaming but opened no HTTP server for it at start-up');
  await runAppStart(root);

  const fns = registeredFunctions();
  const queues = new QueueBindings({ settings: settings.queues, env: process.env, log });
  const server = createServer(
    httpListener(httpRoutes(fns), {
      routePrefix: settings.routePrefix,
      functionKey: process.env.LOCAL_RUNNER_FUNCTION_KEY || undefined,
      maxBodyBytes,
      appServer: capabilities.HttpUri ? appServer : undefined,
      sendOutputs: (fn, outputs) => queues.sendOutputs(fn, outputs),
      log,
    }),
  );
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 7071, options.host ?? '127.0.0.1', ok);
  });
  queues.start(fns);
  const port = (server.address() as AddressInfo).port;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  log(
    'information',
    `local runner: ${fns.length} functions at ${url}/${settings.routePrefix} (a development tool; production runs on the Azure Functions host)`,
  );

  let stopped = false;
  return {
    url,
    port,
    functions: fns.map((f) => f.metadata.name),
    httpFunctions: httpRoutes(fns).map((r) => r.fn.metadata.name),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      server.closeIdleConnections();
      // Keep-alive connections that finish a request now are closed too; one still busy after the grace
      // period is cut, so that stopping never waits for a client's keep-alive timeout.
      const idle = setInterval(() => server.closeIdleConnections(), 100);
      const cut = setTimeout(() => server.closeAllConnections(), STOP_GRACE_MS);
      await queues.stop();
      await closed;
      clearInterval(idle);
      clearTimeout(cut);
      await runAppTerminate();
    },
  };
}
