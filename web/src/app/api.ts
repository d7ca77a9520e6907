// Calls to this app's API from the page: same origin, the signed-in shopper's bearer token and (for the
// admin console of a deployed app) the function key from sessionStorage in headers, and every failure
// turned into an ApiError carrying the problem's detail and Retry-After.
import { bearer } from './session.js';

const KEY_ITEM = 'cart.functionKey';
const BASE = new URL('.', document.baseURI); // the page is /api/app, so this is /api/

/** The function key an admin typed (a deployed app's admin routes need it), kept for this tab only. */
export const functionKey = {
  get: (): string => sessionStorage.getItem(KEY_ITEM) ?? '',
  set: (key: string): void => {
    if (key) sessionStorage.setItem(KEY_ITEM, key);
    else sessionStorage.removeItem(KEY_ITEM);
  },
};

/** A refused or failed call, as the API explained it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly code?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

interface Problem {
  title?: string;
  detail?: string;
  code?: string;
  errors?: { field: string; message: string }[];
}

/** A successful answer: its JSON body and the headers the page needs. */
export interface Answer<T> {
  body: T;
  etag: string | null;
}

async function toError(res: Response): Promise<ApiError> {
  const retry = Number(res.headers.get('Retry-After'));
  const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : undefined;
  let problem: Problem = {};
  // Read whole in every case: a body left unread shows up as an aborted request.
  const text = await res.text();
  if ((res.headers.get('Content-Type') ?? '').includes('json') && text) problem = JSON.parse(text) as Problem;
  const fields = (problem.errors ?? []).map((e) => `${e.field}: ${e.message}`).join('; ');
  const detail =
    [problem.detail, fields].filter(Boolean).join(' ') ||
    (res.status === 401
      ? 'Sign in (and, on a deployed app, type the function key in the admin console).'
      : res.statusText);
  return new ApiError(res.status, problem.title ?? `HTTP ${res.status}`, detail, problem.code, retryAfter);
}

// One request with the key in a header (never in the URL); any failure becomes an ApiError.
async function send(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> },
): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  const key = functionKey.get();
  if (key) headers['x-functions-key'] = key;
  const token = await bearer();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(new URL(path, BASE), {
      method,
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'Network error', 'The app did not answer; check your connection and try again.');
  }
  if (!res.ok) throw await toError(res);
  return res;
}

/** Sends one request; resolves with the parsed body, or rejects with an ApiError. */
export async function api<T>(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const res = await send(method, path, {
    ...options,
    headers: { Accept: 'application/json', ...options.headers },
  });
  const body = (res.status === 204 ? undefined : await res.json()) as T;
  return { body, etag: res.headers.get('ETag') };
}

/** A text download (the export). */
export async function download(path: string): Promise<Blob> {
  return (await send('GET', path, {})).blob();
}

/** The path segment for an id typed by a person. */
export const seg = (id: string): string => encodeURIComponent(id);
