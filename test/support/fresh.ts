// The one way a test gets the app's modules with fresh state (settings, clients, verdicts) under given
// settings: the next import of an app module loads it anew and reads exactly these.
import { vi } from 'vitest';

// The app's own settings, cleared before each fresh start so that one case's settings never leak into the next.
const APP_SETTINGS = /^(REDIS_|BIGLIST_|SKU_CACHE_)/;

/** Drops the loaded app modules and sets the app's settings to exactly `env` (others of its kind removed). */
export function freshModules(env: Record<string, string>): void {
  vi.resetModules();
  for (const k of Object.keys(process.env)) {
    if (APP_SETTINGS.test(k)) Reflect.deleteProperty(process.env, k);
  }
  Object.assign(process.env, env);
}
