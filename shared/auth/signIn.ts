// What the storefront needs to sign a shopper in, from the settings: no secret, the same for every visitor.
import { z } from 'zod';

import { getConfig } from '../config.js';

/** How the page signs in: not at all, with the development issuer, or with MSAL (Microsoft Entra External ID). */
export const SignInSettings = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('off') }),
  z.object({ mode: z.literal('unavailable'), adminRole: z.string() }),
  z.object({ mode: z.literal('development'), tokenEndpoint: z.url(), adminRole: z.string() }),
  z.object({
    mode: z.literal('entra'),
    clientId: z.string(),
    authority: z.url(),
    scopes: z.array(z.string()),
    adminRole: z.string(),
  }),
]);
/** How the page signs in (type). */
export type SignInSettings = z.infer<typeof SignInSettings>;

/** The page's sign-in settings: 'off' without AUTH_ISSUER, 'unavailable' when the API verifies tokens but the page cannot get one. */
export function signInSettings(): SignInSettings {
  const auth = getConfig().auth;
  if (!auth) return { mode: 'off' };
  const { adminRole, page } = auth;
  if (!page) return { mode: 'unavailable', adminRole };
  return page.mode === 'development'
    ? { mode: 'development', tokenEndpoint: page.tokenEndpoint, adminRole }
    : { mode: 'entra', clientId: page.clientId, authority: page.authority, scopes: page.scopes, adminRole };
}

/** The one origin other than its own that the storefront may contact: where it signs in (for its CSP). */
export function signInOrigin(): string | undefined {
  const page = getConfig().auth?.page;
  if (!page) return undefined;
  return new URL(page.mode === 'development' ? page.tokenEndpoint : page.authority).origin;
}
