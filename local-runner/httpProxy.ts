// HTTP streaming, as the host does it for an app that called `app.setup({ enableHttpStream: true })`: the
// request goes to the app's own HTTP server (the capability `HttpUri`) with the invocation id, its body
// streamed as it arrives (within the size limit), while the invocation carries the route parameters and
// headers; the app answers on that server and the response is streamed back to the client, with
// back-pressure both ways. A function that fails before answering gets an empty 500; one that fails while
// its body streams gets its connection cut, so a partial body is never taken for a whole one.
import { randomUUID } from 'node:crypto';
import { type ClientRequest, type IncomingMessage, request as httpRequest } from 'node:http';

import { invoke, type TypedData } from './core.js';
import { failureText } from './errors.js';
import { type Exchange, type HttpOptions, plainEnd, triggerName } from './httpExchange.js';

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

/** Invokes an HTTP function of a streaming app: the exchange goes through the app's own server. */
export async function invokeStreaming(x: Exchange, options: HttpOptions, streamUri: string): Promise<void> {
  const invocationId = randomUUID();
  const proxyReq = openProxyRequest(x, streamUri, invocationId);
  const proxied = new Promise<IncomingMessage>((resolve, reject) => {
    proxyReq.once('response', resolve);
    proxyReq.once('error', reject);
  });
  proxied.catch(() => undefined);
  const body = forwardBody(x, proxyReq, options.maxBodyBytes);
  const invocation = invoke(x.fn, invocationRequest(x), invocationId);
  let status = 500;
  try {
    const first = await Promise.race([proxied, invocation.then(() => proxied)]);
    status = first.statusCode ?? 200;
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(first.headers)) {
      if (v !== undefined && !HOP_BY_HOP.has(k) && k !== INVOCATION_ID) out[k] = v;
    }
    x.res.writeHead(status, out);
    first.pipe(x.res);
    const response = await invocation;
    await options.sendOutputs(
      x.fn,
      (response.outputData ?? []).filter((o) => o.name && x.fn.metadata.bindings[o.name]?.type !== 'http'),
    );
  } catch (err) {
    // A body refused for its size has its 413 on the way; the function failing to read it is expected.
    if (body.refused) return;
    options.log('error', `${x.fn.metadata.name} failed: ${failureText(err)}`);
    proxyReq.destroy();
    if (!x.res.headersSent) plainEnd(x.res, 500);
    // Headers are out: cutting the connection is the only way to tell the client the body is incomplete.
    else x.res.destroy();
  } finally {
    x.logDone(status);
  }
}

/** The request to the app's own server: the client's headers (hop-by-hop ones dropped) and the invocation id. */
function openProxyRequest(x: Exchange, streamUri: string, invocationId: string): ClientRequest {
  const forwarded: Record<string, string> = {};
  for (const [k, v] of Object.entries(x.headers)) if (!HOP_BY_HOP.has(k)) forwarded[k] = v;
  return httpRequest(new URL(`${x.url.pathname}${x.url.search}`, streamUri), {
    method: x.req.method,
    headers: {
      ...forwarded,
      [INVOCATION_ID]: invocationId,
      'x-forwarded-host': x.headers.host ?? x.url.host,
      'x-forwarded-proto': 'http',
    },
  });
}

/** Streams the client's body to the app as it arrives, counted against the limit; the client leaving stops it. */
function forwardBody(x: Exchange, proxyReq: ClientRequest, max: number): { refused: boolean } {
  let size = 0;
  const body = { refused: false };
  x.req.on('data', (chunk: Buffer) => {
    if (body.refused) return;
    size += chunk.length;
    if (size > max) {
      body.refused = true;
      x.req.pause();
      proxyReq.destroy();
      if (!x.res.headersSent) x.refuse();
      return;
    }
    if (!proxyReq.write(chunk)) {
      x.req.pause();
      proxyReq.once('drain', () => x.req.resume());
    }
  });
  x.req.once('end', () => proxyReq.end());
  x.res.once('close', () => {
    // The client went away: stop feeding the app.
    if (!x.res.writableFinished) proxyReq.destroy();
  });
  return body;
}

/** The invocation's side of a streamed request: method, URL, headers, query and route parameters. */
function invocationRequest(x: Exchange) {
  const triggerMetadata: Record<string, TypedData> = {
    Headers: { json: JSON.stringify(x.headers) },
    Query: { json: JSON.stringify(Object.fromEntries(x.url.searchParams)) },
  };
  for (const [k, v] of Object.entries(x.params)) triggerMetadata[k] = { string: v };
  const http = { method: x.req.method ?? 'GET', url: x.url.toString() };
  return { inputData: [{ name: triggerName(x.fn), data: { http } }], triggerMetadata };
}
