// The pages in real Chromium (Debian's package, driven by playwright-core), end to end through the local
// runner against real Redis and Azurite, with sign-in on (the development issuer): a guest fills a cart,
// signs in and sees it merged; a stale ETag; a second shopper's empty cart; the admin console refused to a
// shopper; a biglist load watched to 100% by an admin; the API reference's "Try it out"; an axe scan and
// screenshots. Any console error, failed request, error response or request to another origin than the
// app's and the issuer's token endpoint fails the test, except the one error a step provokes on purpose.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import AxeBuilder from '@axe-core/playwright';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';

import type { Runner } from '../../local-runner/index.js';
import { type DevIssuer, startDevIssuer } from '../../scripts/devIssuer.js';
import { startApp } from '../support/app.js';
import { call } from '../support/http.js';

const servers = inject('servers');
const ROOT = resolve(import.meta.dirname, '..', '..');
const SHOTS = join(ROOT, '.tmp', 'screenshots');
const KEY = 'browser-key';
const CHROMIUM =
  process.env.CHROMIUM_PATH ??
  ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p)) ??
  '/usr/bin/chromium';

let runner: Runner;
let issuer: DevIssuer;
let adminToken: string;
let browser: Browser;
let context: BrowserContext;
let trouble: string[];
// Error responses a step expects, by "status path" (e.g. "412 /api/carts/1/items/sku123").
let allowed: Set<string>;

const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  call(runner.url, method, path, body, {
    'x-functions-key': KEY,
    Authorization: `Bearer ${adminToken}`,
    ...headers,
  });

/** A page that records every console error, failed request, error response and foreign request. */
async function open(path: string): Promise<Page> {
  const page = await context.newPage();
  const origin = new URL(runner.url).origin;
  page.on('console', (m) => {
    // Chromium logs every error response once; those are judged below, by their own rule.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
      trouble.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => trouble.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => trouble.push(`failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('request', (r) => {
    const url = new URL(r.url());
    // The one other place the storefront talks to: the issuer's token endpoint, to sign in.
    const signIn = url.href === `${issuer.url}/token`;
    if (!['data:', 'blob:'].includes(url.protocol) && url.origin !== origin && !signIn)
      trouble.push(`other origin: ${r.url()}`);
  });
  page.on('response', (r) => {
    const key = `${r.status()} ${new URL(r.url()).pathname}`;
    if (r.status() >= 400 && !allowed.has(key)) trouble.push(`error response: ${key}`);
  });
  await page.goto(`${runner.url}${path}`);
  return page;
}

async function axeViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.id}: ${v.help} (${v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary ?? ''}`).join(', ')})`,
    );
}

/** Signs in on the page with the development issuer's form. */
async function signIn(page: Page, name: string, admin = false): Promise<void> {
  await expect.poll(() => page.locator('#signin-form').isVisible()).toBe(true);
  await page.getByLabel('Your name').fill(name);
  if (admin) await page.getByLabel('Admin role').check();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => page.locator('#signin-state').textContent()).toBe(`Signed in as ${name}.`);
  expect([
    await page.locator('#signin-form').isVisible(),
    await page.locator('#signout').isVisible(),
  ]).toEqual([false, true]);
}

beforeAll(async () => {
  issuer = await startDevIssuer({ audience: 'api://cart-browser' });
  adminToken = await issuer.issue({ sub: 'browser-admin', roles: ['Cart.Admin'] });
  runner = await startApp(servers, {
    key: KEY,
    env: { AUTH_ISSUER: issuer.url, AUTH_AUDIENCE: 'api://cart-browser' },
  });
  // As root Chromium refuses its sandbox; CI runs as root.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
  mkdirSync(SHOTS, { recursive: true });
  const skus: [string, string, string][] = [
    ['sku123', 'Wireless headphones', '199.99'],
    ['sku456', 'USB-C cable', '49.50'],
    ['sku789', 'Phone case', '24.00'],
    ['sku100', 'Charger', '35.25'],
    ['sku200', 'Screen protector', '12.99'],
    ['sku300', 'Power bank', '59.90'],
    ['sku400', 'Earbud tips', '7.50'],
  ];
  for (const [id, name, price] of skus)
    expect((await api('PUT', `/skus/${id}`, { name, price })).status).toBe(201);
});

afterAll(async () => {
  await browser.close();
  await runner.stop();
  await issuer.stop();
});

describe('pages', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  });
  afterEach(async () => {
    await context.close();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  });

  it('serves pages with no-cache, hashed assets cached for a year, and a CSP without unsafe-inline', async () => {
    trouble = [];
    allowed = new Set();
    for (const path of ['/docs', '/app']) {
      const res = await fetch(`${runner.url}/api${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      const html = await res.text();
      expect(html).not.toMatch(/<script>|<style>|style="/);
      const assets = [...html.matchAll(/(?:src|href)="(\/api\/assets\/[^"]+)"/g)].map((m) => m[1] ?? '');
      expect(assets.length).toBeGreaterThan(0);
      for (const asset of assets) {
        expect(asset).toMatch(/-[A-Za-z0-9_-]{8}\.(js|css)$/);
        const a = await fetch(`${runner.url}${asset}`);
        expect(a.status).toBe(200);
        expect(a.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect(a.headers.get('content-type')).toMatch(
          asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/,
        );
        await a.arrayBuffer();
      }
    }
    const missing = await fetch(`${runner.url}/api/assets/nothing-here.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    expect((await fetch(`${runner.url}/api/assets/..%2Fapp.html`)).status).toBe(400);
  });

  it('lets a guest fill a cart, sign in and find it merged; shows a stale ETag as the problem detail', async () => {
    trouble = [];
    allowed = new Set(['412 /api/me/cart/items/sku123']);
    const page = await open('/api/app');
    // The catalogue is public: it loads by itself; no key is asked of a shopper.
    await expect.poll(() => page.locator('#skus tbody tr').count()).toBe(5);
    await expect.poll(() => page.locator('#signin-state').textContent()).toBe('Shopping as a guest.');
    expect(await page.locator('#key').isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Start load' }).isDisabled()).toBe(true);

    await page.getByLabel('Quantity of sku123 to add').fill('2');
    await page.getByRole('button', { name: 'Add sku123 to the cart' }).click();
    await expect.poll(() => page.locator('#cart-total').textContent()).toBe('399.98');
    expect(await page.locator('#cart-caption').textContent()).toContain('Your guest cart');
    // sku456 is on the second page of the catalogue (7 SKUs, 5 a page).
    await page.locator('#skus-next').click();
    await expect.poll(() => page.locator('#skus tbody tr').count()).toBe(2);
    await page.getByRole('button', { name: 'Add sku456 to the cart' }).click();
    await expect.poll(() => page.locator('#cart-total').textContent()).toBe('449.48');
    await page.screenshot({ path: join(SHOTS, 'storefront-guest-cart.png'), fullPage: true });

    await signIn(page, 'Ada Lovelace');
    await expect.poll(() => page.locator('#cart-caption').textContent()).toContain('Your cart');
    await expect.poll(() => page.locator('#cart-total').textContent()).toBe('449.48');
    expect(await page.locator('#cart-quantity').textContent()).toBe('3');
    expect(await page.locator('#cart tr[data-sku="sku123"] td').nth(4).textContent()).toBe('399.98');
    // Merged on the server, into Ada's own cart; the guest cart and its token are gone from the tab.
    const ada = { Authorization: `Bearer ${await issuer.issue({ sub: 'dev-Ada_Lovelace' })}` };
    expect((await call(runner.url, 'GET', '/me/cart', undefined, ada)).body.total).toBe('449.48');
    expect(await page.evaluate("sessionStorage.getItem('cart.guestToken')")).toBeNull();
    // No token in any URL the page asked for.
    expect(page.url()).toBe(`${runner.url}/api/app`);
    await page.screenshot({ path: join(SHOTS, 'storefront-cart.png'), fullPage: true });

    await page.getByRole('button', { name: 'Remove sku456' }).click();
    await expect.poll(() => page.locator('#cart-total').textContent()).toBe('399.98');
    expect(await page.locator('#cart tbody tr').count()).toBe(1);

    // Ada changes her cart elsewhere: the page's ETag is now stale, and the change is refused with 412.
    expect((await call(runner.url, 'POST', '/me/cart/items', { skuId: 'sku789' }, ada)).status).toBe(200);
    await page.getByLabel('Quantity of sku123', { exact: true }).fill('5');
    await page.getByRole('button', { name: 'Set quantity of sku123' }).click();
    const problem = page.getByRole('alert');
    await expect.poll(() => problem.textContent()).toContain('(412)');
    expect(await problem.textContent()).toMatch(/Precondition Failed \(412\) The cart .* changed/);
    expect(await problem.textContent()).not.toMatch(/[{}]|precondition_failed/);
    const lines = (await call(runner.url, 'GET', '/me/cart', undefined, ada)).body.items as {
      skuId: string;
      quantity: number;
    }[];
    expect(lines.find((l) => l.skuId === 'sku123')?.quantity).toBe(2);
    await page.screenshot({ path: join(SHOTS, 'storefront-stale-etag.png'), fullPage: true });

    // Reload, then the same change goes through.
    await page.getByRole('button', { name: 'Reload cart' }).click();
    await expect.poll(() => page.locator('#cart tbody tr').count()).toBe(2);
    await page.getByLabel('Quantity of sku123', { exact: true }).fill('5');
    await page.getByRole('button', { name: 'Set quantity of sku123' }).click();
    await expect.poll(() => page.locator('#cart-total').textContent()).toBe('1023.95');
    await expect.poll(() => problem.isHidden()).toBe(true);

    // Back to the first page of the catalogue, which has no page before it.
    await page.locator('#skus-prev').click();
    await expect.poll(() => page.locator('#skus tbody tr').count()).toBe(5);
    expect(await page.locator('#skus-prev').isDisabled()).toBe(true);

    expect(await axeViolations(page)).toEqual([]);
    expect(trouble).toEqual([]);
  });

  it('shows a second shopper their own (empty) cart, and refuses them the admin console', async () => {
    trouble = [];
    allowed = new Set();
    const page = await open('/api/app');
    await signIn(page, 'Grace Hopper');
    await expect.poll(() => page.locator('#cart-caption').textContent()).toBe('Your cart (empty)');
    expect(await page.locator('#cart tbody tr').count()).toBe(0);
    expect(await page.locator('#admin-state').textContent()).toBe(
      'The admin console needs the Cart.Admin role: sign in as an admin.',
    );
    expect(await page.getByRole('button', { name: 'Start load' }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Save SKU' }).isDisabled()).toBe(true);
    // And the API refuses her token on an admin route whatever the page shows.
    const grace = { Authorization: `Bearer ${await issuer.issue({ sub: 'dev-Grace_Hopper' })}` };
    expect(
      (await call(runner.url, 'POST', '/biglist/loads', { count: 10 }, { ...grace, 'x-functions-key': KEY }))
        .status,
    ).toBe(403);
    await page.screenshot({ path: join(SHOTS, 'storefront-shopper.png'), fullPage: true });
    expect(await axeViolations(page)).toEqual([]);
    expect(trouble).toEqual([]);
  });

  it('runs a biglist load to 100% with its chart, then pages the list both ways', async () => {
    trouble = [];
    allowed = new Set();
    await context.addInitScript((key) => sessionStorage.setItem('cart.functionKey', key), KEY);
    const page = await open('/api/app');
    await signIn(page, 'Root', true);
    await expect.poll(() => page.getByRole('button', { name: 'Start load' }).isDisabled()).toBe(false);
    // The admin sets a price; the public catalogue shows it.
    await page.getByLabel('SKU id').fill('sku500');
    await page.getByLabel('SKU name').fill('Stylus');
    await page.getByLabel('Price').fill('9.99');
    await page.getByRole('button', { name: 'Save SKU' }).click();
    const price = async () => String((await call(runner.url, 'GET', '/skus/sku500')).body?.price);
    await expect.poll(price).toBe('9.99');
    await page.getByLabel('Values to load').fill('10000');
    await page.getByLabel('Segment size').fill('1000');
    await page.getByRole('button', { name: 'Start load' }).click();
    await expect.poll(() => page.locator('#load-percent').textContent(), { timeout: 60_000 }).toBe('100%');
    await expect
      .poll(() => page.locator('#load-state').textContent())
      .toMatch(/completed, 10,000 of 10,000 values, 10\/10 segments/);
    const values = () => page.locator('#values li').allTextContents();
    await expect
      .poll(values)
      .toEqual(['10000', '9999', '9998', '9997', '9996', '9995', '9994', '9993', '9992', '9991']);
    // The chart drew something: its pixels differ from a blank canvas of the same size.
    const drawn = await page.evaluate(`(() => {
      const c = document.querySelector('#load-chart');
      const blank = Object.assign(document.createElement('canvas'), { width: c.width, height: c.height });
      return c.width > 0 && c.toDataURL() !== blank.toDataURL();
    })()`);
    expect(drawn).toBe(true);
    // One rate, computed one way: the text's values/s is the chart's last point.
    const said = /, ([\d,]+) values\/s/.exec((await page.locator('#load-state').textContent()) ?? '')?.[1];
    expect(said?.replaceAll(',', '')).toBe(await page.locator('#load-chart').getAttribute('data-last'));
    await page.screenshot({ path: join(SHOTS, 'biglist-console.png'), fullPage: true });

    await page.locator('#page-next').click();
    await expect
      .poll(values)
      .toEqual(['9990', '9989', '9988', '9987', '9986', '9985', '9984', '9983', '9982', '9981']);
    await page.locator('#page-prev').click();
    await expect
      .poll(values)
      .toEqual(['10000', '9999', '9998', '9997', '9996', '9995', '9994', '9993', '9992', '9991']);
    await page.getByLabel('Order').selectOption('asc');
    await page.getByRole('button', { name: 'First page' }).click();
    await expect.poll(values).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);

    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download export' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toBe('biglist-asc.txt');
    await expect.poll(() => page.locator('#export-state').textContent()).toContain('Saved biglist-asc.txt');

    expect(await axeViolations(page)).toEqual([]);
    expect(trouble).toEqual([]);
  });

  it('renders the API reference, whose "Try it out" calls this app with the key and bearer token typed in', async () => {
    trouble = [];
    allowed = new Set();
    const page = await open('/api/docs');
    await page.locator('.swagger-ui .info .title').waitFor();
    expect(await page.locator('.opblock').count()).toBeGreaterThan(20);
    await page
      .getByRole('button', { name: /Authorize/ })
      .first()
      .click();
    const inputs = page.locator('.auth-container input');
    await inputs.first().fill(KEY);
    await inputs.nth(1).fill(await issuer.issue({ sub: 'docs-reader', given_name: 'Docs' }));
    // Each scheme's Authorize button turns into Logout once clicked.
    const authorize = page.locator('.dialog-ux .auth-btn-wrapper button.authorize');
    await authorize.first().click();
    await expect.poll(() => authorize.count()).toBe(1);
    await authorize.first().click();
    await expect.poll(() => authorize.count()).toBe(0);
    await page.locator('.dialog-ux button.btn-done').first().click();
    const op = page.locator('#operations-skus-listSkus');
    await op.locator('.opblock-summary').click();
    await op.getByRole('button', { name: 'Execute' }).click();
    await expect
      .poll(() => op.locator('.live-responses-table tbody td.response-col_status').first().textContent())
      .toContain('200');
    expect(await op.locator('.live-responses-table').textContent()).toContain('sku123');
    // A shopper's route with the bearer token typed in.
    const me = page.locator('#operations-me-getMe');
    await me.locator('.opblock-summary').click();
    await me.getByRole('button', { name: 'Execute' }).click();
    await expect
      .poll(() => me.locator('.live-responses-table tbody td.response-col_status').first().textContent())
      .toContain('200');
    expect(await me.locator('.live-responses-table').textContent()).toContain('docs-reader');
    await page.screenshot({ path: join(SHOTS, 'api-reference.png') });
    // Swagger UI keeps the key in memory only.
    expect(await page.evaluate('[localStorage.length, sessionStorage.length]')).toEqual([0, 0]);
    expect(await axeViolations(page)).toEqual([]);
    expect(trouble).toEqual([]);
  });
});
