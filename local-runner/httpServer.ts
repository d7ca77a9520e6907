import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, request as httpRequest, type ServerResponse } from 'node:http';

import {
  type HttpCookie,
  type HttpData,
  invoke,
  type LogSink,
  type RegisteredFunction,
  type TypedData,
} from './core.js';
import { compareRoutes, type CompiledRoute, compileRoute, matchRoute } from './routes.js';

interface HttpRoute {
  fn: RegisteredFunction;
  route: CompiledRoute;
  methods: Set<string>;
  authLevel: string;
}

/** Options for serving the app's HTTP functions. */
export interface HttpOptions {
  routePrefix: string;
  /** When set, routes with authLevel function/admin need it as `x-functions-key` or `?code=`. */
  functionKey: string | undefined;
  /** Largest request body; a larger one is refused (413) while it streams in, never buffered whole. */
  maxBodyBytes: number;
  /** The app's own HTTP server when it enabled HTTP streaming (capability `HttpUri`); undefined otherwise. */
  streamUri?: string | undefined;
  /** Sends a function's non-HTTP outputs (queue messages) after a successful invocation. */
  sendOutputs: (
    fn: RegisteredFunction,
    outputs: Array<{ name?: string | null; data?: TypedData | null }>,
  ) => Promise<void>;
  log: LogSink;
}

/** Builds the route table from every `httpTrigger` registration, most specific template first. */
export function httpRoutes(fns: RegisteredFunction[]): HttpRoute[] {
  const routes: HttpRoute[] = [];
  for (const fn of fns) {
    const trigger = Object.values(fn.metadata.bindings).find((b) => b.type === 'httpTrigger');
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

function end(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Length': '0', ...headers });
  res.end();
}

// Hop-by-hop headers, never forwarded between the client, the runner and the app's proxy server.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
const INVOCATION_ID = 'x-ms-invocation-id';

/**
 * HTTP streaming, as the host does it for an app that called `app.setup({ enableHttpStream: true })`: the
 * request goes to the app's own HTTP server (the capability `HttpUri`) with the invocation id, its body
 * streamed as it arrives (within the size limit), while the invocation carries the route parameters and
 * headers; the app answers on that server and the response is streamed back to the client, with
 * back-pressure both ways. A function that fails before answering gets an empty 500; one that fails while
 * its body streams gets its connection cut, so a partial body is never taken for a whole one.
 */
async function invokeStreaming(
  fn: RegisteredFunction,
  params: Record<string, string>,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  headers: Record<string, string>,
  options: HttpOptions,
  refuse: () => void,
  started: number,
): Promise<void> {
  const invocationId = randomUUID();
  const name = fn.metadata.name;
  const forwarded: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k)) forwarded[k] = v;
  const target = new URL(`${url.pathname}${url.search}`, options.streamUri);
  const proxyReq = httpRequest(target, {
    method: req.method,
    headers: {
      ...forwarded,
      [INVOCATION_ID]: invocationId,
      'x-forwarded-host': headers.host ?? url.host,
      'x-forwarded-proto': 'http',
    },
  });
  const proxied = new Promise<IncomingMessage>((resolve, reject) => {
    proxyReq.once('response', resolve);
    proxyReq.once('error', reject);
  });
  proxied.catch(() => undefined);

  // The request body flows through as it arrives, counted against the limit.
  let size = 0;
  const body = { refused: false };
  req.on('data', (chunk: Buffer) => {
    if (body.refused) return;
    size += chunk.length;
    if (size > options.maxBodyBytes) {
      body.refused = true;
      req.pause();
      proxyReq.destroy();
      if (!res.headersSent) refuse();
      return;
    }
    if (!proxyReq.write(chunk)) {
      req.pause();
      proxyReq.once('drain', () => req.resume());
    }
  });
  req.once('end', () => proxyReq.end());
  res.once('close', () => {
    // The client went away: stop feeding the app.
    if (!res.writableFinished) proxyReq.destroy();
  });

  const triggerMetadata: Record<string, TypedData> = {
    Headers: { json: JSON.stringify(headers) },
    Query: { json: JSON.stringify(Object.fromEntries(url.searchParams)) },
  };
  for (const [k, v] of Object.entries(params)) triggerMetadata[k] = { string: v };
  const trigger = Object.entries(fn.metadata.bindings).find(([, b]) => b.type === 'httpTrigger');
  const invocation = invoke(
    fn,
    {
      inputData: [
        { name: trigger?.[0] ?? 'req', data: { http: { method: req.method ?? 'GET', url: url.toString() } } },
      ],
      triggerMetadata,
    },
    invocationId,
  );

  let status = 500;
  try {
    const first = await Promise.race([proxied, invocation.then(() => proxied)]);
    status = first.statusCode ?? 200;
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(first.headers)) {
      if (v !== undefined && !HOP_BY_HOP.has(k) && k !== INVOCATION_ID) out[k] = v;
    }
    res.writeHead(status, out);
    first.pipe(res);
    const response = await invocation;
    await options.sendOutputs(
      fn,
      (response.outputData ?? []).filter((o) => o.name && fn.metadata.bindings[o.name]?.type !== 'http'),
    );
  } catch (err) {
    // A body refused for its size has its 413 on the way; the function failing to read it is expected.
    if (body.refused) return;
    options.log(
      'error',
      `${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    proxyReq.destroy();
    if (!res.headersSent) end(res, 500);
    // Headers are out: cutting the connection is the only way to tell the client the body is incomplete.
    else res.destroy();
  } finally {
    options.log(
      'information',
      `${req.method ?? 'GET'} ${url.pathname} -> ${name} ${status} (${Date.now() - started} ms)`,
    );
  }
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

/** The node:http request listener that dispatches to the app's HTTP functions. */
export function httpListener(
  routes: HttpRoute[],
  options: HttpOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const prefix = options.routePrefix ? `/${options.routePrefix.toLowerCase()}` : '';
  return (req, res) => {
    void (async () => {
      const started = Date.now();
      const url = requestUrl(req);
      if (!url) {
        end(res, 400);
        return;
      }
      const method = (req.method ?? 'GET').toUpperCase();
      let path = url.pathname;
      if (prefix) {
        const lower = path.toLowerCase();
        if (lower !== prefix && !lower.startsWith(`${prefix}/`)) {
          end(res, 404);
          return;
        }
        path = path.slice(prefix.length);
      }
      const matches = routes.flatMap((r) => {
        const params = matchRoute(r.route, path);
        return params ? [{ r, params }] : [];
      });
      if (matches.length === 0) {
        end(res, 404);
        return;
      }
      const hit = matches.find((m) => m.r.methods.size === 0 || m.r.methods.has(method));
      if (!hit) {
        const allow = [...new Set(matches.flatMap((m) => [...m.r.methods]))].join(', ');
        end(res, 405, { Allow: allow });
        return;
      }
      if (hit.r.authLevel !== 'anonymous' && options.functionKey) {
        const given = req.headers['x-functions-key'] ?? url.searchParams.get('code');
        if (!sameKey(given, options.functionKey)) {
          end(res, 401);
          return;
        }
      }

      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      }
      const declared = Number(req.headers['content-length'] ?? 0);
      const refuse = () => {
        tooLarge(req, res, options.maxBodyBytes);
        options.log(
          'information',
          `${method} ${url.pathname} -> 413 (body over ${options.maxBodyBytes} bytes)`,
        );
      };
      if (declared > options.maxBodyBytes) {
        refuse();
        return;
      }
      if (options.streamUri) {
        await invokeStreaming(hit.r.fn, hit.params, req, res, url, headers, options, refuse, started);
        return;
      }
      let body: Buffer;
      try {
        body = await readBody(req, options.maxBodyBytes);
      } catch (err) {
        if (!(err instanceof BodyTooLargeError)) throw err;
        refuse();
        return;
      }
      const trigger = Object.entries(hit.r.fn.metadata.bindings).find(([, b]) => b.type === 'httpTrigger');
      const http: HttpData = {
        method,
        url: url.toString(),
        headers,
        params: hit.params,
        body: body.length > 0 ? { bytes: body } : null,
      };
      let status = 500;
      try {
        const response = await invoke(hit.r.fn, {
          inputData: [{ name: trigger?.[0] ?? 'req', data: { http } }],
          triggerMetadata: {},
        });
        const outputs = response.outputData ?? [];
        const httpOut =
          response.returnValue?.http ??
          outputs.find((o) => o.name && hit.r.fn.metadata.bindings[o.name]?.type === 'http')?.data?.http;
        await options.sendOutputs(
          hit.r.fn,
          outputs.filter((o) => o.name && hit.r.fn.metadata.bindings[o.name]?.type !== 'http'),
        );
        status = Number(httpOut?.statusCode ?? 200) || 200;
        const payload = bodyBytes(httpOut?.body);
        const out: Record<string, string | string[]> = { ...(httpOut?.headers ?? {}) };
        const cookies = (httpOut?.cookies ?? []).map(cookieHeader);
        if (cookies.length > 0) out['Set-Cookie'] = cookies;
        out['Content-Length'] = String(payload.length);
        res.writeHead(status, out);
        res.end(payload);
      } catch (err) {
        // The host answers a function that throws with an empty 500 and logs the exception.
        options.log(
          'error',
          `${hit.r.fn.metadata.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
        if (!res.headersSent) end(res, 500);
      } finally {
        options.log(
          'information',
          `${method} ${url.pathname} -> ${hit.r.fn.metadata.name} ${status} (${Date.now() - started} ms)`,
        );
      }
    })().catch((err: unknown) => {
      options.log('error', `request failed: ${String(err)}`);
      if (!res.headersSent) end(res, 500);
    });
  };
}
