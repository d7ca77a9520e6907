// The storefront: browse SKUs a page at a time and fill a cart; as a guest (a guest cart opened by its
// Cart-Token, kept for this tab) or signed in (the shopper's own cart, /me/cart). At sign-in the guest cart
// is merged into the shopper's, once. Totals are shown exactly as the API returns them; every change sends
// the cart's ETag, so a stale view gets a 412.
// The API's own response types (type-only imports: nothing of the server is bundled).
import type { Cart } from '../../../shared/carts/schema.js';
import type { SkuPage } from '../../../shared/skus/schema.js';
import { api, ApiError, seg } from './api.js';
import { byId, el, guarded } from './dom.js';
import { current } from './session.js';

const PAGE = 5;
const GUEST_ITEM = 'cart.guestToken';
const state = {
  etag: null as string | null,
  // Cursors of the pages before the one shown; the last entry is the current page's.
  skuCursors: [] as (string | undefined)[],
  skuNext: null as string | null,
};

/** The guest cart's token for this tab, if a guest cart was started here. */
const guestToken = {
  get: (): string | null => sessionStorage.getItem(GUEST_ITEM),
  set: (token: string | null): void => {
    if (token) sessionStorage.setItem(GUEST_ITEM, token);
    else sessionStorage.removeItem(GUEST_ITEM);
  },
};

/** Where the cart of whoever uses the page lives, and the header that opens it. */
function cartOf(): { path: string; headers: Record<string, string> } | undefined {
  if (current()) return { path: 'me/cart', headers: {} };
  const token = guestToken.get();
  return token ? { path: 'guest-cart', headers: { 'Cart-Token': token } } : undefined;
}

/** The cart to change, starting a guest cart when a guest has none yet. */
async function cartToChange(): Promise<{ path: string; headers: Record<string, string> }> {
  const found = cartOf();
  if (found) return found;
  const { body } = await api<{ cartToken: string }>('POST', 'guest-cart');
  guestToken.set(body.cartToken);
  return { path: 'guest-cart', headers: { 'Cart-Token': body.cartToken } };
}

function renderCart(cart: Cart | null, etag: string | null): void {
  state.etag = etag;
  const body = byId('cart', HTMLTableElement).tBodies[0];
  if (!body) return;
  body.replaceChildren();
  const whose = current() ? 'Your cart' : 'Your guest cart';
  byId('cart-caption', HTMLElement).textContent = `${whose}${cart?.items.length ? '' : ' (empty)'}`;
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

/** Shows the cart of whoever uses the page (an empty one for a guest who has none yet). */
export async function loadCart(): Promise<void> {
  const cart = cartOf();
  if (!cart) {
    renderCart(null, null);
    return;
  }
  try {
    const { body, etag } = await api<Cart>('GET', cart.path, { headers: cart.headers });
    renderCart(body, etag);
  } catch (err) {
    // A guest cart that expired (or was merged from another tab): start again with none.
    if (!(err instanceof ApiError && err.code === 'guest_cart_not_found')) throw err;
    guestToken.set(null);
    renderCart(null, null);
  }
}

/** At sign-in: the guest cart of this tab, if any, merged into the shopper's (exactly once, by the API). */
export async function mergeGuestCart(): Promise<void> {
  const token = guestToken.get();
  if (token) {
    try {
      const { body, etag } = await api<Cart>('POST', 'me/cart/merge', { headers: { 'Cart-Token': token } });
      guestToken.set(null);
      await showChanged(body, etag);
      return;
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'guest_cart_not_found')) throw err;
      guestToken.set(null);
    }
  }
  await loadCart();
}

const ifMatch = (): Record<string, string> => (state.etag ? { 'If-Match': state.etag } : {});

async function setQuantity(skuId: string, quantity: number): Promise<void> {
  const cart = await cartToChange();
  const { body, etag } = await api<Cart>('PUT', `${cart.path}/items/${seg(skuId)}`, {
    body: { quantity },
    headers: { ...cart.headers, ...ifMatch() },
  });
  await showChanged(body, etag);
}

async function removeLine(skuId: string): Promise<void> {
  const cart = await cartToChange();
  const { body, etag } = await api<Cart>('DELETE', `${cart.path}/items/${seg(skuId)}`, {
    headers: { ...cart.headers, ...ifMatch() },
  });
  await showChanged(body, etag);
}

async function addToCart(skuId: string, quantity: number): Promise<void> {
  const cart = await cartToChange();
  const { body, etag } = await api<Cart>('POST', `${cart.path}/items`, {
    body: { skuId, quantity },
    headers: cart.headers,
  });
  await showChanged(body, etag);
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

/** Wires the catalogue and cart sections. */
export function startShop(): void {
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
      const cart = cartOf();
      if (cart) await api('DELETE', cart.path, { headers: cart.headers });
      await loadCart();
    }),
  );
}

/** Shows the first page of the catalogue (again). */
export function reloadCatalogue(): void {
  state.skuCursors = [undefined];
  guarded(() => loadSkus(undefined))();
}
