// The storefront: open or create a user, browse SKUs a page at a time, and change the cart. Totals are shown
// exactly as the API returns them; every change sends the cart's ETag, so a stale view gets a 412.
// The API's own response types (type-only imports: nothing of the server is bundled).
import type { Cart } from '../../../shared/carts/schema.js';
import type { SkuPage } from '../../../shared/skus/schema.js';
import type { User } from '../../../shared/users/schema.js';
import { api, seg } from './api.js';
import { byId, el, guarded } from './dom.js';

const PAGE = 5;
const state = {
  user: null as User | null,
  etag: null as string | null,
  // Cursors of the pages before the one shown; the last entry is the current page's.
  skuCursors: [] as (string | undefined)[],
  skuNext: null as string | null,
};

function requireUser(): User {
  if (!state.user) throw new Error('Open or create a user first.');
  return state.user;
}

function renderCart(cart: Cart | null, etag: string | null): void {
  state.etag = etag;
  const body = byId('cart', HTMLTableElement).tBodies[0];
  if (!body) return;
  body.replaceChildren();
  byId('cart-caption', HTMLElement).textContent = cart
    ? `Cart of ${cart.userId}${cart.items.length ? '' : ' (empty)'}`
    : 'Open a user to see their cart';
  byId('cart-quantity', HTMLElement).textContent = cart ? String(cart.totalQuantity) : '';
  byId('cart-total', HTMLElement).textContent = cart ? (cart.total ?? 'prices unavailable') : '';
  for (const line of cart?.items ?? []) {
    const row = el('tr', '', { 'data-sku': line.skuId });
    if (line.available === false) row.classList.add('unavailable');
    const qty = el('input', '', {
      type: 'number',
      min: '0',
      max: '1000000',
      value: String(line.quantity),
      'aria-label': `Quantity of ${line.skuId}`,
    });
    const set = el('button', 'Set', { type: 'button', 'aria-label': `Set quantity of ${line.skuId}` });
    set.addEventListener(
      'click',
      guarded(() => setQuantity(line.skuId, Number(qty.value))),
    );
    const remove = el('button', 'Remove', { type: 'button', 'aria-label': `Remove ${line.skuId}` });
    remove.addEventListener(
      'click',
      guarded(() => removeLine(line.skuId)),
    );
    const name = el('td', line.available === false ? 'No longer sold' : (line.name ?? ''));
    row.append(
      el('td', line.skuId),
      name,
      el('td', line.unitPrice ?? '—', { class: 'num' }),
      cellWith(qty, set),
      el('td', line.lineTotal ?? 'not counted', { class: 'num' }),
      cellWith(remove),
    );
    body.append(row);
  }
}

function cellWith(...nodes: HTMLElement[]): HTMLTableCellElement {
  const td = el('td');
  td.append(...nodes);
  return td;
}

/**
 * Shows the cart a change answered. A change applied while the prices could not be read answers the cart
 * without them (`priced: false`, no ETag): it was applied, so it is not retried; the cart is read again.
 */
async function showChanged(body: Cart, etag: string | null): Promise<void> {
  renderCart(body, etag);
  if (body.priced === false) await loadCart();
}

async function loadCart(): Promise<void> {
  const user = requireUser();
  const { body, etag } = await api<Cart>('GET', `carts/${seg(user.id)}`);
  renderCart(body, etag);
}

const ifMatch = (): Record<string, string> => (state.etag ? { 'If-Match': state.etag } : {});

async function setQuantity(skuId: string, quantity: number): Promise<void> {
  const user = requireUser();
  const { body, etag } = await api<Cart>('PUT', `carts/${seg(user.id)}/items/${seg(skuId)}`, {
    body: { quantity },
    headers: ifMatch(),
  });
  await showChanged(body, etag);
}

async function removeLine(skuId: string): Promise<void> {
  const user = requireUser();
  const { body, etag } = await api<Cart>('DELETE', `carts/${seg(user.id)}/items/${seg(skuId)}`, {
    headers: ifMatch(),
  });
  await showChanged(body, etag);
}

async function addToCart(skuId: string, quantity: number): Promise<void> {
  const user = requireUser();
  const { body, etag } = await api<Cart>('POST', `carts/${seg(user.id)}/items`, {
    body: { skuId, quantity },
  });
  await showChanged(body, etag);
}

async function openUser(user: User): Promise<void> {
  state.user = user;
  byId('user-current', HTMLElement).textContent =
    `Shopping as ${user.firstName} ${user.lastName} (${user.id}).`;
  await loadCart();
}

async function loadSkus(cursor: string | undefined): Promise<void> {
  const query = new URLSearchParams({ limit: String(PAGE) });
  if (cursor) query.set('cursor', cursor);
  const { body } = await api<SkuPage>('GET', `skus?${query.toString()}`);
  state.skuNext = body.nextCursor;
  const rows = byId('skus', HTMLTableElement).tBodies[0];
  rows?.replaceChildren(
    ...body.items.map((sku) => {
      const qty = el('input', '', {
        type: 'number',
        min: '1',
        max: '1000000',
        value: '1',
        'aria-label': `Quantity of ${sku.id} to add`,
      });
      const add = el('button', 'Add', { type: 'button', 'aria-label': `Add ${sku.id} to the cart` });
      add.addEventListener(
        'click',
        guarded(() => addToCart(sku.id, Number(qty.value))),
      );
      const row = el('tr', '', { 'data-sku': sku.id });
      row.append(
        el('td', sku.id),
        el('td', sku.name),
        el('td', sku.price, { class: 'num' }),
        cellWith(qty, add),
      );
      return row;
    }),
  );
  byId('skus-prev', HTMLButtonElement).disabled = state.skuCursors.length <= 1;
  byId('skus-next', HTMLButtonElement).disabled = body.nextCursor === null;
}

/** Wires the shopper, catalogue and cart sections. */
export function startShop(): void {
  byId('user-open', HTMLFormElement).addEventListener('submit', (e) => {
    e.preventDefault();
    const id = byId('user-id', HTMLInputElement).value.trim();
    guarded(async () => openUser((await api<User>('GET', `users/${seg(id)}`)).body))();
  });
  byId('user-create', HTMLFormElement).addEventListener('submit', (e) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const input: Record<string, string> = {};
    for (const [k, v] of form) if (typeof v === 'string' && v.trim()) input[k] = v.trim();
    guarded(async () => openUser((await api<User>('POST', 'users', { body: input })).body))();
  });
  byId('skus-next', HTMLButtonElement).addEventListener(
    'click',
    guarded(async () => {
      if (state.skuNext === null) return;
      state.skuCursors.push(state.skuNext);
      await loadSkus(state.skuNext);
    }),
  );
  byId('skus-prev', HTMLButtonElement).addEventListener(
    'click',
    guarded(async () => {
      state.skuCursors.pop();
      await loadSkus(state.skuCursors.at(-1));
    }),
  );
  byId('skus-reload', HTMLButtonElement).addEventListener('click', reloadCatalogue);
  byId('cart-reload', HTMLButtonElement).addEventListener('click', guarded(loadCart));
  byId('cart-clear', HTMLButtonElement).addEventListener(
    'click',
    guarded(async () => {
      const user = requireUser();
      await api('DELETE', `carts/${seg(user.id)}`);
      await loadCart();
    }),
  );
}

/** Shows the first page of the catalogue (again). */
export function reloadCatalogue(): void {
  state.skuCursors = [undefined];
  guarded(() => loadSkus(undefined))();
}
