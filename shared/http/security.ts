// The security headers every response carries: API answers (JSON, problems, the export) and the pages.

/** The pages' policy: everything from this origin, nothing inline, nothing from anywhere else. */
export const PAGE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers of a page or a static file. */
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': PAGE_CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

/** A page's headers when it also talks to `origin` (the storefront's sign-in): that origin and no other. */
export function pageSecurityHeaders(origin: string | undefined): Readonly<Record<string, string>> {
  if (!origin) return PAGE_SECURITY_HEADERS;
  const csp = PAGE_CONTENT_SECURITY_POLICY.replace("connect-src 'self'", `connect-src 'self' ${origin}`);
  return { ...PAGE_SECURITY_HEADERS, 'Content-Security-Policy': csp };
}

/** Headers of every other response: nothing in an API answer may run, load or be framed. */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};
