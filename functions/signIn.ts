import { SignInSettings, signInSettings } from '../shared/auth/signIn.js';
import { defineRoute, json } from '../shared/http/route.js';

export const getSignInSettings = defineRoute({
  name: 'getSignInSettings',
  method: 'GET',
  path: '/auth/config',
  authLevel: 'anonymous',
  summary:
    'How the storefront signs shoppers in (no secret): off, the development issuer, or Microsoft Entra External ID',
  tag: 'me',
  offline: true,
  responses: { 200: { description: 'The sign-in settings', schema: SignInSettings } },
  handler: () => Promise.resolve(json(200, signInSettings())),
});
