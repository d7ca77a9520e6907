// Who is signed in on this tab. The page asks the app how to sign in (GET auth/config): with the
// development issuer (`npm start`: a name typed here, optionally the admin role), or with Microsoft Entra
// External ID through MSAL (authorization code flow with PKCE, redirecting to the tenant's sign-in page).
// Access tokens stay in sessionStorage (MSAL's cache too), never in a URL; nothing here is a secret.
import type { SignInSettings } from '../../../shared/auth/signIn.js';

const SESSION_ITEM = 'cart.session';
const BASE = new URL('.', document.baseURI);
// A token this close to its expiry is not used: the request could arrive after it.
const EXPIRY_MARGIN_S = 60;

/** A signed-in shopper as the page knows them (read from their access token, which the API verifies). */
export interface Session {
  token: string;
  name: string;
  roles: string[];
  expiresAt: number;
}

let settings: SignInSettings = { mode: 'off' };
// MSAL is loaded only where the app signs in with Microsoft Entra, and only when needed.
type Msal = import('@azure/msal-browser').IPublicClientApplication;
let msal: Promise<Msal> | undefined;

function decode(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? '';
  const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))) as Record<
    string,
    unknown
  >;
}

function remember(token: string): Session {
  const claims = decode(token);
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  const session: Session = {
    token,
    name:
      [text(claims.given_name), text(claims.family_name)].filter(Boolean).join(' ') ||
      text(claims.name) ||
      text(claims.sub),
    roles: Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [],
    expiresAt: typeof claims.exp === 'number' ? claims.exp : 0,
  };
  sessionStorage.setItem(SESSION_ITEM, JSON.stringify(session));
  return session;
}

/** The sign-in settings the app answered (after `loadSignIn`). */
export const signInMode = (): SignInSettings => settings;

/** The session of this tab, when one is signed in and its token is still good. */
export function current(): Session | undefined {
  const raw = sessionStorage.getItem(SESSION_ITEM);
  if (!raw) return undefined;
  const session = JSON.parse(raw) as Session;
  if (session.expiresAt - EXPIRY_MARGIN_S < Date.now() / 1000) return undefined;
  return session;
}

/** Whether the signed-in shopper has the admin role. */
export function isAdmin(): boolean {
  const session = current();
  return session !== undefined && 'adminRole' in settings && session.roles.includes(settings.adminRole);
}

function msalApp(s: Extract<SignInSettings, { mode: 'entra' }>): Promise<Msal> {
  msal ??= import('@azure/msal-browser').then(async ({ createStandardPublicClientApplication }) =>
    createStandardPublicClientApplication({
      auth: {
        clientId: s.clientId,
        authority: s.authority,
        knownAuthorities: [new URL(s.authority).host],
        redirectUri: `${location.origin}${location.pathname}`,
      },
      cache: { cacheLocation: 'sessionStorage' },
    }),
  );
  return msal;
}

/** Reads how the app signs in, and finishes a sign-in that redirected back here (MSAL). */
export async function loadSignIn(): Promise<SignInSettings> {
  const res = await fetch(new URL('auth/config', BASE), { cache: 'no-store' });
  settings = res.ok ? ((await res.json()) as SignInSettings) : { mode: 'off' };
  if (settings.mode === 'entra') {
    const result = await (await msalApp(settings)).handleRedirectPromise();
    if (result?.accessToken) remember(result.accessToken);
  }
  return settings;
}

/** Signs in: with the development issuer for `name` (optionally an admin), or by redirecting to Microsoft Entra. */
export async function signIn(name: string, admin: boolean): Promise<Session | undefined> {
  if (settings.mode === 'development') {
    const res = await fetch(settings.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name, admin }),
      cache: 'no-store',
    });
    if (!res.ok) throw new Error(`The development issuer answered ${res.status}.`);
    return remember(((await res.json()) as { access_token: string }).access_token);
  }
  if (settings.mode === 'entra') {
    // Leaves the page; loadSignIn finishes the sign-in when the tenant sends the browser back.
    await (await msalApp(settings)).loginRedirect({ scopes: settings.scopes });
    return undefined;
  }
  throw new Error('This app has no sign-in page configured.');
}

/**
 * The bearer token for the next call, renewed silently (MSAL) when it is about to expire; undefined when
 * nobody is signed in.
 */
export async function bearer(): Promise<string | undefined> {
  const session = current();
  if (session) return session.token;
  if (settings.mode !== 'entra' || !sessionStorage.getItem(SESSION_ITEM)) return undefined;
  const app = await msalApp(settings);
  const account = app.getAllAccounts()[0];
  if (!account) return undefined;
  const renewed = await app.acquireTokenSilent({ scopes: settings.scopes, account });
  return remember(renewed.accessToken).token;
}

/** Signs out of this tab (and of Microsoft Entra's session, with MSAL). */
export async function signOut(): Promise<void> {
  sessionStorage.removeItem(SESSION_ITEM);
  if (settings.mode === 'entra') await (await msalApp(settings)).logoutRedirect();
}
