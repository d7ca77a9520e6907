// `npm run demo -- --base-url <url> [--key <function key>] [--count N] [--json]`
// Plays the classic walkthrough against a running app (local runner, func start, or Azure) over HTTP.
import { styleText } from 'node:util';

import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import { Command, InvalidArgumentError } from 'commander';

import type { Cart } from '../shared/carts/schema.js';
import { ensureError } from '../shared/errors.js';

interface Options {
  baseUrl: string;
  key?: string;
  adminToken?: string;
  shopperToken?: string;
  count: number;
  json: boolean;
}

/** Who a call is made as: the admin role (catalogue, biglist) or the signed-in shopper (their own cart). */
type As = 'admin' | 'shopper';
type Tokens = Partial<Record<As, string>>;

interface LoadStatus {
  state: string;
  count: number;
  loaded: number;
  valuesPerSecond: number | null;
  error?: string;
}

/** A failure that ends the demo with one clear line and exit code 1. */
class DemoError extends Error {}

function positiveInt(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > 1_000_000_000)
    throw new InvalidArgumentError('expected a whole number from 1 to 1000000000');
  return n;
}

// no-color.org: NO_COLOR set to anything but "" turns colour off; so does output that is not a terminal.
// The demo decides and styles its own text: libraries' own detection also turns colour off when CI is
// set, so a person's terminal and the same command under a CI runner would disagree.
const COLOR = process.stdout.isTTY && !process.env.NO_COLOR;
const bold = (text: string) => (COLOR ? styleText('bold', text, { validateStream: false }) : text);

// Either form works: https://<app>.azurewebsites.net or https://<app>.azurewebsites.net/api.
const baseOf = (opts: Options) => opts.baseUrl.replace(/\/+$/, '').replace(/\/api$/, '');

function client(opts: Options, tokens: Tokens) {
  const base = baseOf(opts);
  return async function call(
    method: string,
    path: string,
    body?: unknown,
    okStatuses: number[] = [],
    as: As = 'admin',
  ): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = {};
    if (opts.key && as === 'admin') headers['x-functions-key'] = opts.key;
    const token = tokens[as];
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${base}/api${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      // fetch says "fetch failed" and keeps the reason (ECONNREFUSED, a bad host) in its cause.
      const e = ensureError(err);
      const cause = e.cause === undefined ? e.message : ensureError(e.cause).message;
      throw new DemoError(`cannot reach ${base}: ${cause}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (res.status === 401)
      throw new DemoError(
        `${method} /api${path} was refused (401): ${as === 'admin' && !opts.key ? 'pass the function key with --key' : `the ${as} token was not accepted`}`,
      );
    if (res.status === 403)
      throw new DemoError(`${method} /api${path} was refused (403): the token lacks the admin role`);
    if (!res.ok && !okStatuses.includes(res.status)) {
      const p = parsed as { code?: string; detail?: string } | undefined;
      const why = p?.code
        ? `${p.code}: ${p.detail ?? ''}`
        : `${res.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`;
      throw new DemoError(`${method} /api${path} failed with ${res.status} ${why}`);
    }
    return { status: res.status, body: parsed };
  };
}

function cartTable(cart: Cart): string {
  const table = new Table({
    head: ['SKU', 'Name', 'Unit price', 'Qty', 'Line total'].map(bold),
    colAligns: ['left', 'left', 'right', 'right', 'right'],
    // cli-table3's own colours (red head, grey border) follow its detection, not the rule above.
    style: { head: [], border: [] },
  });
  for (const l of cart.items)
    table.push([
      l.skuId,
      l.available === null ? '(price not read)' : l.available ? (l.name ?? '') : '(unavailable)',
      l.unitPrice ?? '-',
      l.quantity,
      l.lineTotal ?? '-',
    ]);
  table.push([{ colSpan: 3, content: bold('Total') }, cart.totalQuantity, cart.total ?? '-']);
  return table.toString();
}

/**
 * The tokens the walkthrough acts with: none when the app has sign-in off (the function key alone, the
 * classic /carts/1 routes); from the development issuer when the app uses it; else the ones passed in.
 */
async function tokensFor(opts: Options): Promise<{ tokens: Tokens; signedIn: boolean }> {
  let settings: { mode?: string; tokenEndpoint?: string; adminRole?: string } = {};
  try {
    const res = await fetch(`${baseOf(opts)}/api/auth/config`, { signal: AbortSignal.timeout(30_000) });
    if (res.ok) settings = (await res.json()) as typeof settings;
  } catch {
    // Unreachable: the first call below says so in one line.
  }
  if (settings.mode === 'off' || settings.mode === undefined) return { tokens: {}, signedIn: false };
  const given: Tokens = { admin: opts.adminToken, shopper: opts.shopperToken };
  if (settings.mode === 'development' && settings.tokenEndpoint) {
    const issue = async (name: string, admin: boolean) => {
      const res = await fetch(settings.tokenEndpoint ?? '', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, admin }),
        signal: AbortSignal.timeout(30_000),
      });
      if (!res.ok) throw new DemoError(`the development issuer answered ${res.status}`);
      return ((await res.json()) as { access_token: string }).access_token;
    };
    given.admin ??= await issue('demo-admin', true);
    given.shopper ??= await issue('Parker Perry', false);
  }
  if (!given.admin || !given.shopper)
    throw new DemoError(
      'this app has sign-in on: pass --admin-token (a token with the admin role) and --shopper-token',
    );
  return { tokens: given, signedIn: true };
}

async function main(opts: Options): Promise<void> {
  const { tokens, signedIn } = await tokensFor(opts);
  const call = client(opts, tokens);
  const out: Record<string, unknown> = {};
  const say = (line: string) => {
    if (!opts.json) console.log(line);
  };

  // Signed in, the shopper's cart is /me/cart and their user is made from the token; else user 1's.
  let cart = '/carts/1';
  let who = 'user 1';
  if (signedIn) {
    const me = (await call('GET', '/me', undefined, [], 'shopper')).body as { id: string; firstName: string };
    cart = '/me/cart';
    who = `${me.firstName} (signed in as ${me.id})`;
    say(`Signed in as ${me.firstName} (${me.id}); the catalogue is written with the admin role`);
  } else {
    const user = await call('POST', '/users', { id: '1', firstName: 'Parker', lastName: 'Perry' }, [409]);
    say(user.status === 409 ? 'User 1 (Parker Perry) already exists' : 'Created user 1: Parker Perry');
  }
  const as: As = signedIn ? 'shopper' : 'admin';

  await call('PUT', '/skus/sku123', { name: 'AirPods', price: '199.99' });
  await call('PUT', '/skus/sku456', { name: 'Magic Mouse', price: '49.50' });
  say('SKUs: sku123 AirPods 199.99, sku456 Magic Mouse 49.50');

  await call('DELETE', cart, undefined, [], as);
  await call('POST', `${cart}/items`, { skuId: 'sku123', quantity: 2 }, [], as);
  const full = (await call('POST', `${cart}/items`, { skuId: 'sku456', quantity: 1 }, [], as)).body as Cart;
  out.cart = full;
  say(`\nCart of ${who} after adding 2 x sku123 and 1 x sku456:\n${cartTable(full)}`);

  const after = (await call('DELETE', `${cart}/items/sku456`, undefined, [], as)).body as Cart;
  out.cartAfterRemove = after;
  say(`\nAfter removing sku456:\n${cartTable(after)}`);

  const started = await call('POST', '/biglist/loads', { count: opts.count });
  const loadId = (started.body as { loadId: string }).loadId;
  say(`\nLoading ${opts.count.toLocaleString('en')} values into biglist (load ${loadId})`);
  // The bar redraws with cursor codes: only on a terminal.
  const bar =
    opts.json || !process.stdout.isTTY
      ? undefined
      : new SingleBar({
          format: '  [{bar}] {percentage}% | {value}/{total} values | {eta_formatted} left',
          hideCursor: true,
        });
  bar?.start(opts.count, 0);
  let status: LoadStatus;
  for (;;) {
    status = (await call('GET', `/biglist/loads/${loadId}`)).body as LoadStatus;
    bar?.update(status.loaded);
    if (status.state !== 'queued' && status.state !== 'running') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  bar?.stop();
  if (status.state !== 'completed') {
    throw new DemoError(`load ${loadId} ${status.state}${status.error ? `: ${status.error}` : ''}`);
  }
  out.load = { loadId, ...status };
  say(
    `Loaded ${status.loaded.toLocaleString('en')} values at ${(status.valuesPerSecond ?? 0).toLocaleString('en')} values/s`,
  );

  const page = (await call('GET', '/biglist?limit=10')).body as { values: number[] };
  out.newest = page.values;
  say(`\nFirst 10 values, newest first: ${page.values.join(', ')}`);
  if (opts.json) console.log(JSON.stringify(out, null, 2));
}

const program = new Command()
  .name('demo')
  .description('Plays the classic cart and biglist walkthrough against a running app.')
  .requiredOption(
    '--base-url <url>',
    'app URL, with or without /api: http://127.0.0.1:7071 or https://<app>.azurewebsites.net/api',
  )
  .option('--key <key>', 'function key (x-functions-key); needed in Azure')
  .option(
    '--admin-token <jwt>',
    'a bearer token with the admin role (sign-in on; the development issuer gives one itself)',
  )
  .option(
    '--shopper-token <jwt>',
    "a shopper's bearer token (sign-in on; the development issuer gives one itself)",
  )
  .option('--count <n>', 'values to load into biglist', positiveInt, 10_000)
  .option('--json', 'print one JSON document instead of tables', false)
  .showHelpAfterError();
program.parse();

main(program.opts<Options>()).catch((err: unknown) => {
  console.error(`demo: ${ensureError(err).message}`);
  process.exit(1);
});
