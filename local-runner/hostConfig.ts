import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The parts of host.json the local runner honours, with the host's defaults. */
export interface HostSettings {
  routePrefix: string;
  queues: {
    batchSize: number;
    newBatchThreshold: number;
    maxDequeueCount: number;
    visibilityTimeoutMs: number;
    maxPollingIntervalMs: number;
    messageEncoding: 'base64' | 'none';
  };
}

/** Parses a host.json TimeSpan ("hh:mm:ss", "d.hh:mm:ss", optional fraction) into milliseconds. */
export function parseTimeSpan(value: string): number {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(value.trim());
  if (!m) throw new Error(`host.json: "${value}" is not a TimeSpan (hh:mm:ss)`);
  const [, d = '0', h = '0', min = '0', s = '0', frac = '0'] = m;
  return (
    ((Number(d) * 24 + Number(h)) * 60 + Number(min)) * 60_000 +
    Number(s) * 1000 +
    Math.round(Number(`0.${frac}`) * 1000)
  );
}

interface HostJson {
  extensions?: {
    http?: { routePrefix?: string };
    queues?: {
      batchSize?: number;
      newBatchThreshold?: number;
      maxDequeueCount?: number;
      visibilityTimeout?: string;
      maxPollingInterval?: string;
      messageEncoding?: string;
    };
  };
}

/** Reads host.json from the app folder, applying the host's defaults for what it leaves out. */
export function readHostSettings(root: string): HostSettings {
  const file = join(root, 'host.json');
  const json: HostJson = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as HostJson) : {};
  const q = json.extensions?.queues ?? {};
  const batchSize = Math.min(q.batchSize ?? 16, 32);
  const encoding = (q.messageEncoding ?? 'base64').toLowerCase();
  if (encoding !== 'base64' && encoding !== 'none')
    throw new Error(`host.json: unknown messageEncoding "${encoding}"`);
  return {
    routePrefix: (json.extensions?.http?.routePrefix ?? 'api').replace(/^\/+|\/+$/g, ''),
    queues: {
      batchSize,
      // The host's default is batchSize/2 per core; one core here, as on Consumption plans.
      newBatchThreshold: q.newBatchThreshold ?? Math.floor(batchSize / 2),
      maxDequeueCount: q.maxDequeueCount ?? 5,
      visibilityTimeoutMs: q.visibilityTimeout ? parseTimeSpan(q.visibilityTimeout) : 0,
      maxPollingIntervalMs: q.maxPollingInterval ? parseTimeSpan(q.maxPollingInterval) : 60_000,
      messageEncoding: encoding,
    },
  };
}

/** Applies local.settings.json `Values` under the environment, as `func start` does (the environment wins). */
export function applyLocalSettings(root: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const file = join(root, 'local.settings.json');
  if (!existsSync(file)) return [];
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, unknown> };
  const applied: string[] = [];
  for (const [k, v] of Object.entries(parsed.Values ?? {})) {
    if (env[k] === undefined && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) {
      env[k] = String(v);
      applied.push(k);
    }
  }
  return applied;
}
