// The admin console: the function key of a deployed app, SKU writes and the biglist. It is open to the
// admin role only (the API refuses everyone else with 403 whatever the page shows); with sign-in off, the
// function key alone opens the admin routes, as before.
import type { Sku } from '../../../shared/skus/schema.js';
import { api, functionKey, seg } from './api.js';
import { byId, guarded } from './dom.js';
import { isAdmin, signInMode } from './session.js';
import { reloadCatalogue } from './shop.js';

function showKeyState(): void {
  byId('key-state', HTMLElement).textContent = functionKey.get()
    ? 'Key kept for this tab.'
    : 'No key typed: the local runner needs none; a deployed app answers 401 until you type its function key.';
}

/** Opens or closes the console for whoever is signed in now, saying why. */
export function refreshAdmin(): void {
  const mode = signInMode();
  const open = mode.mode === 'off' || isAdmin();
  byId('admin-console', HTMLFieldSetElement).disabled = !open;
  byId('admin-state', HTMLElement).textContent =
    mode.mode === 'off'
      ? 'Sign-in is off on this app: the function key alone opens the admin routes.'
      : open
        ? `Signed in with the ${mode.adminRole} role.`
        : `The admin console needs the ${mode.adminRole} role: sign in as an admin.`;
}

/** Wires the console's key and SKU forms. */
export function startAdmin(): void {
  byId('key-form', HTMLFormElement).addEventListener('submit', (e) => {
    e.preventDefault();
    const input = byId('key', HTMLInputElement);
    functionKey.set(input.value.trim());
    input.value = '';
    showKeyState();
  });
  byId('sku-form', HTMLFormElement).addEventListener('submit', (e) => {
    e.preventDefault();
    const value = (id: string) => byId(id, HTMLInputElement).value.trim();
    guarded(async () => {
      await api<Sku>('PUT', `skus/${seg(value('sku-id'))}`, {
        body: { name: value('sku-name'), price: value('sku-price') },
      });
      reloadCatalogue();
    })();
  });
  showKeyState();
}
