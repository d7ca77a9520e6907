// HTTP streaming, as the host does it for an app that called `app.setup({ enableHttpStream: true })`: the
// request reaches the app's own HTTP server (the one `@azure/functions` opens for the capability `HttpUri`)
// with the invocation id, its body streamed as it arrives (within the size limit), while the invocation
// carries the route parameters and headers; the app answers on that request's response, streamed to the
// client with back-pressure both ways. A function that fails before answering gets an empty 500; one that
// fails while its body streams gets its connection cut, so a partial body is never taken for a whole one.
//
// Why the request is handed to that server's listener instead of sent to its port: in Azure the host is
// another process and the worker parses the host's HTTP request once; here the runner has parsed it
// already, and a second HTTP exchange over loopback inside the same process (a client leg and a server
// leg) would more than double the process's cost per request without running any more of the library's
// code. The library's listener, `waitForProxyRequest`, `createStreamRequest` and `sendProxyResponse` run
// as they do in Azure, with the client's own response as the one they answer on.
import { randomUUID } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import http, { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { Transform } from 'node:stream';

import { invoke, type TypedData } from './core.js';
import { failureText } from './errors.js';
import { type Exchange, type HttpOptions, plainEnd, triggerName } from './httpExchange.js';

const INVOCATION_ID = 'x-ms-invocation-id';
// What Node publishes when a server receives a request; published here for the app's server, since its
// listener is called directly (the app's stream flow control finds the response there).
const requestStart = channel('http.server.request.start');

/**
 * Runs `open` (the programming model's start-up, where `@azure/functions` opens its streaming server) and
 * returns what it returned with the HTTP server it created, if it created one.
 */
export async function withAppServer<T>(open: () => Promise<T>): Promise<{ value: T; server?: Server }> {
  let server: Server | undefined;
  // The library is CommonJS: it calls `createServer` on the module object, which is what is swapped here.
  http.createServer = ((...args: Parameters<typeof createServer>) => {
    server = createServer(...args);
    return server;
  }) as typeof createServer;
  try {
    const value = await open();
    return server ? { value, server } : { value };
  } finally {
    http.createServer = createServer;
  }
}

/** Invokes an HTTP function of a streaming app: the exchange goes through the app's own server's listener. */
export async function invokeStreaming(x: Exchange, options: HttpOptions, appServer: Server): Promise<void> {
  const invocationId = randomUUID();
  const { request, refused } = appRequest(x, invocationId, options.maxBodyBytes);
  hideInvocationId(x.res);
  const invocation = invoke(x.fn, invocationRequest(x), invocationId);
  if (requestStart.hasSubscribers)
    requestStart.publish({ request, response: x.res, socket: x.req.socket, server: appServer });
  appServer.emit('request', request, x.res);
  let status = 500;
  try {
    const response = await invocation;
    status = x.res.statusCode;
    await options.sendOutputs(
      x.fn,
      (response.outputData ?? []).filter((o) => o.name && x.fn.metadata.bindings[o.name]?.type !== 'http'),
    );
  } catch (err) {
    // A body refused for its size has its 413 on the way; the function failing to read it is expected.
    if (refused()) return;
    options.log('error', `${x.fn.metadata.name} failed: ${failureText(err)}`);
    if (!x.res.headersSent) plainEnd(x.res, 500);
    // Headers are out: cutting the connection is the only way to tell the client the body is incomplete.
    else x.res.destroy();
  } finally {
    x.logDone(status);
  }
}

/** The request as the app's server sees it: the host's headers, and the client's body within the limit. */
interface AppRequest {
  headers: IncomingHttpHeaders;
  url?: string | undefined;
  method?: string | undefined;
}

/**
 * The request the app's server gets: the client's, with the invocation id and forwarding headers, and its
 * body (if the method has one) counted as it streams; `refused` once the body went past the limit.
 */
function appRequest(
  x: Exchange,
  invocationId: string,
  max: number,
): { request: AppRequest; refused: () => boolean } {
  const headers = {
    ...x.req.headers,
    [INVOCATION_ID]: invocationId,
    'x-forwarded-host': x.headers.host ?? x.url.host,
    'x-forwarded-proto': 'http',
  };
  // The library reads no body for these (createStreamRequest): the client's request itself will do.
  if (x.req.method === 'GET' || x.req.method === 'HEAD') {
    x.req.headers = headers;
    return { request: x.req, refused: () => false };
  }
  let size = 0;
  let refused = false;
  const body = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size <= max) {
        done(null, chunk);
        return;
      }
      refused = true;
      x.req.unpipe(body);
      x.req.pause();
      if (!x.res.headersSent) x.refuse();
      done(new Error(`request body over ${max} bytes`));
    },
  });
  x.req.pipe(body);
  // A client that leaves before its body is complete fails the function's read of it.
  x.req.once('close', () => {
    if (!x.req.complete) body.destroy(new Error('the client left before its request body was complete'));
  });
  return {
    request: Object.assign(body, { headers, url: x.req.url, method: x.req.method }),
    refused: () => refused,
  };
}

/** Keeps the invocation id the library sets on its response from reaching the client, as the host does. */
function hideInvocationId(res: ServerResponse): void {
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
  // Node sends headers set with setHeader through writeHead too (its implicit header).
  res.writeHead = (...args: unknown[]) => {
    res.removeHeader(INVOCATION_ID);
    return writeHead(...args);
  };
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
