// The storefront and admin console. Nothing secret is in the page: a shopper signs in (the app says how);
// an admin of a deployed app also types the function key, kept in sessionStorage for this tab only.
import './app.css';

import { refreshAdmin, startAdmin } from './admin.js';
import { startBiglist } from './biglist.js';
import { byId, guarded } from './dom.js';
import { current, loadSignIn, signIn, signInMode, signOut } from './session.js';
import { loadCart, mergeGuestCart, reloadCatalogue, startShop } from './shop.js';

/** Shows who uses the page (and the way to sign in or out), and opens what they may use. */
function showSession(): void {
  const mode = signInMode().mode;
  const session = current();
  byId('signin-form', HTMLFormElement).hidden = session !== undefined || mode !== 'development';
  byId('signin-entra', HTMLButtonElement).hidden = session !== undefined || mode !== 'entra';
  byId('signout', HTMLButtonElement).hidden = session === undefined;
  byId('signin-state', HTMLElement).textContent = session
    ? `Signed in as ${session.name}.`
    : mode === 'off' || mode === 'unavailable'
      ? 'Shopping as a guest (sign-in is not available on this page).'
      : 'Shopping as a guest.';
  refreshAdmin();
}

async function signedIn(name: string, admin: boolean): Promise<void> {
  if (!(await signIn(name, admin))) return;
  showSession();
  // The guest cart of this tab joins the shopper's cart.
  await mergeGuestCart();
}

byId('signin-form', HTMLFormElement).addEventListener('submit', (e) => {
  e.preventDefault();
  const name = byId('signin-name', HTMLInputElement).value.trim();
  const admin = byId('signin-admin', HTMLInputElement).checked;
  guarded(() => signedIn(name, admin))();
});
byId('signin-entra', HTMLButtonElement).addEventListener(
  'click',
  guarded(() => signedIn('', false)),
);
byId('signout', HTMLButtonElement).addEventListener(
  'click',
  guarded(async () => {
    await signOut();
    showSession();
    await loadCart();
  }),
);

startShop();
startAdmin();
startBiglist();
// The catalogue is public: it loads by itself.
reloadCatalogue();
guarded(async () => {
  await loadSignIn();
  showSession();
  // Back from Microsoft Entra's sign-in page: merge as the development sign-in does.
  await (current() ? mergeGuestCart() : loadCart());
})();
