// The storefront and biglist console. Nothing secret is in the page: the function key is typed by the
// person and kept in sessionStorage for this tab only.
import './app.css';

import { functionKey } from './api.js';
import { startBiglist } from './biglist.js';
import { byId } from './dom.js';
import { reloadCatalogue, startShop } from './shop.js';

function showKeyState(): void {
  byId('key-state', HTMLElement).textContent = functionKey.get()
    ? 'Key kept for this tab.'
    : 'No key typed: the local runner needs none; a deployed app answers 401 until you type its function key.';
}

byId('key-form', HTMLFormElement).addEventListener('submit', (e) => {
  e.preventDefault();
  const input = byId('key', HTMLInputElement);
  functionKey.set(input.value.trim());
  input.value = '';
  showKeyState();
  reloadCatalogue();
});

showKeyState();
startShop();
startBiglist();
// The catalogue loads by itself; where a key is needed and none was typed, the 401 says so.
reloadCatalogue();
