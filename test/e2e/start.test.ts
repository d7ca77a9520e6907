// `npm start` as a newcomer and their tools use it: stopped by SIGTERM (an IDE, a process manager) or
// SIGINT, it stops everything it started within seconds; started with a bad setting, it refuses with one
// line naming the variable.
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

import { describe, expect, inject, it } from 'vitest';

import { freePort, isListening } from '../../scripts/localServices.js';
import { until } from '../support/http.js';

const servers = inject('servers');
const ROOT = resolve(import.meta.dirname, '..', '..');

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function run(command: string, args: string[], env: Record<string, string>): Started {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  return { child, output: () => output, exited };
}

describe('npm start', { timeout: 120_000 }, () => {
  it.each([
    ['SIGTERM', 'once it is ready'],
    ['SIGINT', 'once it is ready'],
    ['SIGTERM', 'while it is still starting (seeding the catalogue)'],
  ] as const)(
    'stops everything it started within seconds on %s to the npm process %s',
    async (signal, when) => {
      const [port, redisPort] = [await freePort(), await freePort()];
      const started = run('npm', ['start'], {
        PORT: String(port),
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        AzureWebJobsStorage: servers.azurite.connectionString,
      });
      const ready = `open http://127.0.0.1:${port}/api/app`;
      if (when === 'once it is ready') {
        await until(
          'the start line',
          () => Promise.resolve(started.output().includes(ready) || undefined),
          90_000,
        );
      } else {
        await until('the app to listen', async () => ((await isListening(port)) ? true : undefined), 90_000);
      }
      expect(await isListening(redisPort)).toBe(true);
      const sent = Date.now();
      started.child.kill(signal);
      await until(
        'the app and its Redis to stop',
        async () => (!(await isListening(port)) && !(await isListening(redisPort)) ? true : undefined),
        10_000,
      );
      await started.exited;
      expect(Date.now() - sent).toBeLessThan(10_000);
    },
  );

  it('gives a working sign-in out of the box: a development issuer, a seeded catalogue, a shopper cart', async () => {
    const [port, redisPort, issuerPort] = [await freePort(), await freePort(), await freePort()];
    const started = run('npm', ['start'], {
      PORT: String(port),
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      DEV_ISSUER_PORT: String(issuerPort),
      AzureWebJobsStorage: servers.azurite.connectionString,
    });
    try {
      const base = `http://127.0.0.1:${port}/api`;
      await until(
        'the start line',
        () => Promise.resolve(started.output().includes(`open ${base}/app`) || undefined),
        90_000,
      );
      expect(started.output()).toContain(`development OpenID issuer at http://127.0.0.1:${issuerPort}`);
      const settings = (await (await fetch(`${base}/auth/config`)).json()) as Record<string, string>;
      expect(settings).toEqual({
        mode: 'development',
        tokenEndpoint: `http://127.0.0.1:${issuerPort}/token`,
        adminRole: 'Cart.Admin',
      });
      const csp = (await fetch(`${base}/app`)).headers.get('content-security-policy') ?? '';
      expect(csp).toContain(`connect-src 'self' http://127.0.0.1:${issuerPort};`);
      // A new shopper each run: npm start keeps its Redis data in .tmp/redis between runs.
      const { access_token: token } = (await (
        await fetch(settings.tokenEndpoint ?? '', {
          method: 'POST',
          body: JSON.stringify({ name: `Newcomer ${Date.now()}` }),
        })
      ).json()) as { access_token: string };
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const added = await fetch(`${base}/me/cart/items`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ skuId: 'sku123', quantity: 2 }),
      });
      expect([added.status, ((await added.json()) as { total: string }).total]).toEqual([200, '399.98']);
      // The shopper's token opens no admin route.
      const refused = await fetch(`${base}/skus/sku123`, { method: 'DELETE', headers });
      expect(refused.status).toBe(403);
    } finally {
      started.child.kill('SIGTERM');
      await started.exited;
    }
    expect(await isListening(issuerPort)).toBe(false);
  });

  it.each([
    ['REDIS_DEADLINE_MS', 'abc'],
    ['NODE_TLS_REJECT_UNAUTHORIZED', '0'],
  ])('refuses to start with %s=%s, in one line naming it', async (name, value) => {
    for (const [command, args] of [
      ['npm', ['start']],
      [process.execPath, ['dist/local-runner/serve.js']],
    ] as const) {
      const started = run(command, [...args], {
        [name]: value,
        PORT: String(await freePort()),
        REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
        AzureWebJobsStorage: servers.azurite.connectionString,
      });
      expect(await started.exited).not.toBe(0);
      const lines = started
        .output()
        .split('\n')
        .filter((l) => /^(start|serve): /.test(l));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`${name}:`);
      expect(started.output()).not.toContain('open http');
    }
  });
});
