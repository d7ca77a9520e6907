// The demo client, run as users run it (a child process), against the local runner.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import type { Runner } from '../../local-runner/index.js';
import { type DevIssuer, startDevIssuer } from '../../scripts/devIssuer.js';
import { startApp } from '../support/app.js';
import { freePort } from '../support/servers.js';

const run = promisify(execFile);
const servers = inject('servers');
const ROOT = resolve(import.meta.dirname, '..', '..');
let runner: Runner;
let issuer: DevIssuer;

async function demo(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return demoWith(process.execPath, [resolve(ROOT, 'dist', 'scripts', 'demo.js'), ...args]);
}

async function demoWith(
  command: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(command, args, { timeout: 120_000, cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

// As `npm start` runs it: sign-in on, with the development issuer; the demo gets its tokens from it.
beforeAll(async () => {
  issuer = await startDevIssuer({ audience: 'api://cart-demo' });
  runner = await startApp(servers, {
    key: 'demo-key',
    env: { AUTH_ISSUER: issuer.url, AUTH_AUDIENCE: 'api://cart-demo' },
  });
});

afterAll(async () => {
  await runner.stop();
  await issuer.stop();
});

describe('npm run demo', { timeout: 180_000 }, () => {
  it('plays the walkthrough: exact cart totals, a 10,000-value load, the newest 10 values', async () => {
    // As the README shows it: through npm, whose stdout is then exactly one JSON document, without a
    // rebuild (the build is current).
    const { code, stdout, stderr } = await demoWith('npm', [
      'run',
      '-s',
      'demo',
      '--',
      '--base-url',
      runner.url,
      '--key',
      'demo-key',
      '--json',
    ]);
    expect(code).toBe(0);
    expect(stderr).not.toContain('npm run build');
    const out = JSON.parse(stdout) as {
      cart: { total: string };
      cartAfterRemove: { total: string };
      load: { state: string; loaded: number };
      newest: number[];
    };
    expect(out.cart.total).toBe('449.48');
    expect(out.cartAfterRemove.total).toBe('399.98');
    // As a signed-in shopper: the cart is theirs (from the token), not user 1's.
    expect((out.cart as { userId?: string }).userId).toBe('dev-Parker_Perry');
    expect(out.load).toMatchObject({ state: 'completed', loaded: 10_000 });
    expect(out.newest).toEqual([10000, 9999, 9998, 9997, 9996, 9995, 9994, 9993, 9992, 9991]);
  });

  it('prints tables for people and reports values per second for a bigger --count', async () => {
    const { code, stdout } = await demo('--base-url', runner.url, '--key', 'demo-key', '--count', '250000');
    expect(code).toBe(0);
    expect(stdout).toContain('Signed in as Parker (dev-Parker_Perry)');
    expect(stdout).toContain('449.48');
    expect(stdout).toMatch(/Loaded 250,000 values at [\d,]+ values\/s/);
    expect(stdout).toContain('250000, 249999, 249998');
  });

  it('ends with one clear line and exit code 1 without the function key', async () => {
    const { code, stderr } = await demo('--base-url', runner.url);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([
      'demo: PUT /api/skus/sku123 was refused (401): pass the function key with --key',
    ]);
  });

  it('ends with one clear line when a token it was given is refused', async () => {
    const expired = await issuer.issue({ sub: 'late' }, { expiresIn: -600 });
    const { code, stderr } = await demo(
      '--base-url',
      runner.url,
      '--key',
      'demo-key',
      '--shopper-token',
      expired,
    );
    expect([code, stderr.trim()]).toEqual([
      1,
      'demo: GET /api/me was refused (401): the shopper token was not accepted',
    ]);
  });

  it('takes the base URL with or without /api', async () => {
    const { code, stdout } = await demo('--base-url', `${runner.url}/api/`, '--key', 'demo-key', '--json');
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as { cart: { total: string } }).cart.total).toBe('449.48');
  });

  it('prints colour only to a terminal, and none there when NO_COLOR is set', async () => {
    const ESC = '\u001b';
    // A colour (SGR) code is ESC [ digits m; the progress bar's cursor codes end otherwise.
    const hasColour = (text: string) =>
      text
        .split(`${ESC}[`)
        .slice(1)
        .some((rest) => /^[0-9;]*m/.test(rest));
    const piped = await demo('--base-url', runner.url, '--key', 'demo-key');
    expect(piped.code).toBe(0);
    expect(piped.stdout).toContain('449.48');
    expect(piped.stdout).not.toContain(ESC);
    // script(1) gives the demo a pseudo-terminal, as a person's shell would.
    const inTerminal = async (env: Record<string, string>) => {
      const command = [process.execPath, resolve(ROOT, 'dist', 'scripts', 'demo.js')]
        .concat(['--base-url', runner.url, '--key', 'demo-key'])
        .join(' ');
      const { stdout } = await run('script', ['-qec', command, '/dev/null'], {
        timeout: 120_000,
        env: { ...process.env, ...env },
      });
      return stdout;
    };
    const coloured = await inTerminal({ NO_COLOR: '', TERM: 'xterm-256color' });
    expect(coloured).toContain('449.48');
    expect(hasColour(coloured)).toBe(true);
    const plain = await inTerminal({ NO_COLOR: '1', TERM: 'xterm-256color' });
    expect(plain).toContain('449.48');
    expect(hasColour(plain)).toBe(false);
  });

  it('ends with one clear line and exit code 1 when nothing answers at the URL', async () => {
    const { code, stderr } = await demo('--base-url', `http://127.0.0.1:${await freePort()}`, '--key', 'x');
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^demo: cannot reach http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });
});
