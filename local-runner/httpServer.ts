// The runner's HTTP server: routes requests to the app's HTTP functions as the host does (route prefix,
// templates, methods, function keys, the body limit), buffered or, for a streaming app, through its server.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { type HttpCookie, type HttpData, invoke, type RegisteredFunction, type TypedData } from './core.js';
import { failureText } from './errors.js';
import { type Exchange, type HttpOptions, httpTriggerOf, plainEnd, triggerName } from './httpExchange.js';
import { invokeStreaming } from './httpProxy.js';
import { compareRoutes, type CompiledRoute, compileRoute, matchSegments, pathSegments } from './routes.js';

interface HttpRoute {
  fn: RegisteredFunction;
  route: CompiledRoute;
  methods: Set<string>;
  authLevel: string;
}

/** Builds the route table from every `httpTrigger` registration, most specific template first. */
export function httpRoutes(fns: RegisteredFunction[]): HttpRoute[] {
  const routes: HttpRoute[] = [];
  for (const fn of fns) {
    const trigger = httpTriggerOf(fn)?.binding;
    if (!trigger) continue;
    const template = typeof trigger.route === 'string' && trigger.route ? trigger.route : fn.metadata.name;
    const methods = Array.isArray(trigger.methods) ? (trigger.methods as string[]) : [];
    routes.push({
      fn,
      route: compileRoute(template),
      methods: new Set(methods.map((m) => m.toUpperCase())),
      authLevel: typeof trigger.authLevel === 'string' ? trigger.authLevel.toLowerCase() : 'anonymous',
    });
  }
  return routes.sort((a, b) => compareRoutes(a.route, b.route));
}

/** A request body past the limit. */
class BodyTooLargeError extends Error {}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) {
        // Stop holding anything: the rest of the body is never read.
        req.off('data', onData);
        req.pause();
        chunks.length = 0;
        fail(new BodyTooLargeError());
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => {
      ok(Buffer.concat(chunks));
    });
    req.on('error', fail);
  });
}

/** Answers 413 and closes the connection, so the client stops sending the rest of the body. */
// How long a refused body is still read (and dropped) so that the client gets its 413 before a close.
const DRAIN_MS = 5000;

function tooLarge(req: IncomingMessage, res: ServerResponse, max: number): void {
  const body = JSON.stringify({
    type: 'https://httpstatuses.io/413',
    title: 'Content Too Large',
    status: 413,
    detail: `The local runner takes request bodies of up to ${max} bytes.`,
    code: 'body_too_large',
  });
  res.writeHead(413, {
    'Content-Type': 'application/problem+json',
    'Content-Length': String(Buffer.byteLength(body)),
  });
  res.end(body);
  // Closing a socket with unread data resets it, and the client may lose the 413 it was sent: the rest of
  // the body is read and dropped (memory stays flat) so that the client can finish sending and read the
  // answer; a client that is still sending after a few seconds is cut off.
  const socket = req.socket;
  req.removeAllListeners('data');
  req.on('data', () => undefined);
  req.resume();
  const timer = setTimeout(() => socket.destroy(), DRAIN_MS);
  timer.unref();
  req.once('end', () => {
    clearTimeout(timer);
  });
}

function cookieHeader(c: HttpCookie): string {
  const parts = [`${c.name ?? ''}=${c.value ?? ''}`];
  if (c.domain?.value) parts.push(`Domain=${c.domain.value}`);
  if (c.path?.value) parts.push(`Path=${c.path.value}`);
  if (c.expires?.value?.seconds)
    parts.push(`Expires=${new Date(c.expires.value.seconds * 1000).toUTCString()}`);
  if (c.maxAge?.value !== undefined && c.maxAge.value !== null) parts.push(`Max-Age=${c.maxAge.value}`);
  if (c.secure?.value) parts.push('Secure');
  if (c.httpOnly?.value) parts.push('HttpOnly');
  if (c.sameSite && c.sameSite !== 'none')
    parts.push(`SameSite=${c.sameSite === 'explicitNone' ? 'None' : c.sameSite}`);
  return parts.join('; ');
}

function bodyBytes(data: TypedData | null | undefined): Buffer {
  if (!data) return Buffer.alloc(0);
  if (data.bytes) return Buffer.from(data.bytes);
  if (typeof data.string === 'string') return Buffer.from(data.string);
  if (typeof data.json === 'string') return Buffer.from(data.json);
  return Buffer.alloc(0);
}

/** The request's URL, or undefined when its Host header (or target) makes none (`Host: [`, `a%b`). */
function requestUrl(req: IncomingMessage): URL | undefined {
  const host = req.headers.host;
  try {
    return new URL(req.url ?? '/', `http://${host ?? '127.0.0.1'}`);
  } catch {
    return undefined;
  }
}

/** Compares a presented function key with the expected one in constant time (hashes of equal length). */
function sameKey(given: string | string[] | null | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** A request's route and parameters, or the status (and headers) that refuse it. */
type Routing =
  { route: HttpRoute; params: Record<string, string> } | { status: number; headers?: Record<string, string> };

/** Finds the route a path and method go to: 404 for no template, 405 (with Allow) for no method. */
function route(routes: HttpRoute[], prefix: string, url: URL, method: string): Routing {
  let path = url.pathname;
  if (prefix) {
    const lower = path.toLowerCase();
    if (lower !== prefix && !lower.startsWith(`${prefix}/`)) return { status: 404 };
    path = path.slice(prefix.length);
  }
  const parts = pathSegments(path);
  if (!parts) return { status: 404 };
  // The most specific template that takes the method wins; the others only name the methods for a 405.
  let allowed: string[] | undefined;
  for (const r of routes) {
    const params = matchSegments(r.route, parts);
    if (!params) continue;
    if (r.methods.size === 0 || r.methods.has(method)) return { route: r, params };
    (allowed ??= []).push(...r.methods);
  }
  if (!allowed) return { status: 404 };
  return { status: 405, headers: { Allow: [...new Set(allowed)].join(', ') } };
}

/** The request's headers as one string each (repeated ones joined, as the host does). */
function flatHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return headers;
}

/** The node:http request listener that dispatches to the app's HTTP functions. */
export function httpListener(
  routes: HttpRoute[],
  options: HttpOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const prefix = options.routePrefix ? `/${options.routePrefix.toLowerCase()}` : '';
  return (req, res) => {
    dispatch(req, res, routes, prefix, options).catch((err: unknown) => {
      options.log('error', `request failed: ${String(err)}`);
      if (!res.headersSent) plainEnd(res, 500);
    });
  };
}

async function dispatch(
  req: IncomingMessage,
  res: ServerResponse,
  routes: HttpRoute[],
  prefix: string,
  options: HttpOptions,
): Promise<void> {
  const started = Date.now();
  const url = requestUrl(req);
  if (!url) {
    plainEnd(res, 400);
    return;
  }
  const method = (req.method ?? 'GET').toUpperCase();
  const routing = route(routes, prefix, url, method);
  if ('status' in routing) {
    plainEnd(res, routing.status, routing.headers);
    return;
  }
  const { route: hit, params } = routing;
  if (hit.authLevel !== 'anonymous' && options.functionKey) {
    const given = req.headers['x-functions-key'] ?? url.searchParams.get('code');
    if (!sameKey(given, options.functionKey)) {
      plainEnd(res, 401);
      return;
    }
  }
  const name = hit.fn.metadata.name;
  const x: Exchange = {
    fn: hit.fn,
    params,
    req,
    res,
    url,
    headers: flatHeaders(req),
    refuse: () => {
      tooLarge(req, res, options.maxBodyBytes);
      options.log(
        'information',
        `${method} ${url.pathname} -> 413 (body over ${options.maxBodyBytes} bytes)`,
      );
    },
    logDone: (status) => {
      options.log(
        'information',
        `${method} ${url.pathname} -> ${name} ${status} (${Date.now() - started} ms)`,
      );
    },
  };
  if (Number(req.headers['content-length'] ?? 0) > options.maxBodyBytes) {
    x.refuse();
    return;
  }
  if (options.appServer) return invokeStreaming(x, options, options.appServer);
  return invokeBuffered(x, method, options);
}

/** Invokes an HTTP function with the whole body read first, and writes its response. */
async function invokeBuffered(x: Exchange, method: string, options: HttpOptions): Promise<void> {
  let body: Buffer;
  try {
    body = await readBody(x.req, options.maxBodyBytes);
  } catch (err) {
    if (!(err instanceof BodyTooLargeError)) throw err;
    x.refuse();
    return;
  }
  const http: HttpData = {
    method,
    url: x.url.toString(),
    headers: x.headers,
    params: x.params,
    body: body.length > 0 ? { bytes: body } : null,
  };
  let status = 500;
  try {
    const response = await invoke(x.fn, {
      inputData: [{ name: triggerName(x.fn), data: { http } }],
      triggerMetadata: {},
    });
    const outputs = response.outputData ?? [];
    const isHttp = (o: { name?: string | null }) =>
      Boolean(o.name && x.fn.metadata.bindings[o.name]?.type === 'http');
    const httpOut = response.returnValue?.http ?? outputs.find(isHttp)?.data?.http;
    await options.sendOutputs(
      x.fn,
      outputs.filter((o) => o.name && !isHttp(o)),
    );
    status = Number(httpOut?.statusCode ?? 200) || 200;
    writeResponse(x.res, status, httpOut);
  } catch (err) {
    // The host answers a function that throws with an empty 500 and logs the exception.
    options.log('error', `${x.fn.metadata.name} failed: ${failureText(err)}`);
    if (!x.res.headersSent) plainEnd(x.res, 500);
  } finally {
    x.logDone(status);
  }
}

/** Writes a buffered function response: its headers, cookies and body. */
function writeResponse(res: ServerResponse, status: number, httpOut: HttpData | null | undefined): void {
  const payload = bodyBytes(httpOut?.body);
  const out: Record<string, string | string[]> = { ...(httpOut?.headers ?? {}) };
  const cookies = (httpOut?.cookies ?? []).map(cookieHeader);
  if (cookies.length > 0) out['Set-Cookie'] = cookies;
  out['Content-Length'] = String(payload.length);
  res.writeHead(status, out);
  res.end(payload);
}
