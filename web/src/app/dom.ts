// Small DOM helpers: find an element of the expected type, build rows without innerHTML, show problems.
import { ApiError } from './api.js';

/** The element with this id, checked to be of the expected kind. */
export function byId<T extends HTMLElement>(id: string, kind: new () => T): T {
  const el = document.getElementById(id);
  if (!(el instanceof kind)) throw new Error(`#${id} is missing from the page`);
  return el;
}

/** An element with text content (never parsed as HTML) and optional attributes. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text = '',
  attrs: Record<string, string> = {},
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

const problemBox = () => byId('problem', HTMLDivElement);

/** Shows what went wrong: the problem's detail, and when to retry for a 503 or 429. */
export function showProblem(err: unknown): void {
  const box = problemBox();
  box.replaceChildren();
  if (err instanceof ApiError) {
    box.append(el('strong', `${err.title} (${err.status})`), document.createTextNode(` ${err.message}`));
    if (err.retryAfterSeconds !== undefined)
      box.append(document.createTextNode(` Try again in ${err.retryAfterSeconds} s.`));
    box.dataset.status = String(err.status);
  } else {
    box.append(el('strong', 'Something went wrong'), document.createTextNode(` ${String(err)}`));
    box.dataset.status = '';
  }
  box.hidden = false;
}

/** Hides the problem box after a call that worked. */
export function clearProblem(): void {
  problemBox().hidden = true;
}

/** Runs an action for a button or form: problems are shown, never thrown into the console. */
export function guarded(action: () => Promise<void>): () => void {
  return () => {
    action().then(clearProblem, showProblem);
  };
}
