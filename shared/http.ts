import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { z } from 'zod';
import { getConfig } from './config.js';
import { AppError, toErrorResponse, type FieldError } from './errors.js';

/** A handler body: may throw; the wrapper maps every failure through the one error mapper. */
export type RouteHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/** Wraps a route so that any thrown value becomes a problem+json response. */
export function route(fn: RouteHandler): HttpHandler {
  return async (request, context) => {
    try {
      return await fn(request, context);
    } catch (err) {
      return toErrorResponse(err, context);
    }
  };
}

/** A JSON response with the given status and extra headers. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'Cache-Control': 'no-store', ...headers } };
}

/** An empty response (204 and the like). */
export function empty(status = 204, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, headers };
}

function fieldErrors(where: string, error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue) => {
    const base = [where, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ field: base ? `${base}.${k}` : k, message: 'is not a known field' }));
    }
    return [{ field: base || where, message: issue.message }];
  });
}

/** Validates a value against a schema, or throws a 400 listing every failing field. */
export function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: 'path' | 'query' | 'body' | 'header',
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const errors = fieldErrors(where, result.error);
    throw new AppError(
      400,
      'validation_failed',
      `Invalid ${where}: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`,
      {
        errors,
      },
    );
  }
  return result.data;
}

/** Route parameters, validated. */
export function parsePath<S extends z.ZodType>(request: HttpRequest, schema: S): z.output<S> {
  return parseWith(schema, { ...request.params }, 'path');
}

/** Query parameters (first value of each), validated; the function key (`code`) is the host's, not ours. */
export function parseQuery<S extends z.ZodType>(request: HttpRequest, schema: S): z.output<S> {
  const query = Object.fromEntries(request.query.entries());
  // The portal hands out keys as ?code=...; the host checks it, and it must not fail strict validation.
  delete query.code;
  return parseWith(schema, query, 'query');
}

/** The raw body text, within the size limit and declared as JSON when a type is given. */
export async function readBodyText(request: HttpRequest): Promise<string> {
  const max = getConfig().maxBodyBytes;
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > max) throw new AppError(413, 'body_too_large', `The body must not exceed ${max} bytes.`);
  const type = request.headers.get('content-type');
  if (type && !/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw new AppError(415, 'unsupported_media_type', 'Send the body as application/json.');
  }
  // Read as a stream and counted as it arrives: a body past the limit is refused without being held whole.
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader: ReadableStreamDefaultReader<Uint8Array> = request.body.getReader();
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      size += next.value.length;
      if (size > max) {
        await reader.cancel();
        throw new AppError(413, 'body_too_large', `The body must not exceed ${max} bytes.`);
      }
      chunks.push(next.value);
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses a JSON body text against a schema: 400 for malformed JSON, unknown or invalid fields. */
export function parseJsonBody<S extends z.ZodType>(text: string, schema: S): z.output<S> {
  if (text.trim() === '') throw new AppError(400, 'body_required', 'A JSON body is required.');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError(400, 'invalid_json', 'The body is not valid JSON.');
  }
  return parseWith(schema, value, 'body');
}

/** Reads and validates a JSON body in one step. */
export async function readJson<S extends z.ZodType>(request: HttpRequest, schema: S): Promise<z.output<S>> {
  return parseJsonBody(await readBodyText(request), schema);
}

/** An If-Match precondition: absent, `*` (any current cart), or the strong entity tags it lists. */
export type IfMatch = undefined | '*' | readonly string[];

// One entity-tag of RFC 9110 section 8.8.3: optional W/, then a quoted run of etagc.
const ENTITY_TAG = /(W\/)?"([\x21\x23-\x7E\x80-\xFF]*)"/y;

/**
 * Parses If-Match per RFC 9110 section 13.1.1: a malformed header is 400; weak tags are dropped, because
 * If-Match compares strongly and a weak tag never matches; any well-formed tag the cart does not have
 * fails the precondition later (412).
 */
export function parseIfMatch(request: HttpRequest): IfMatch {
  const raw = request.headers.get('if-match');
  if (raw === null || raw.trim() === '') return undefined;
  if (raw.trim() === '*') return '*';
  const strong: string[] = [];
  let tags = 0;
  let afterTag = false;
  for (let pos = 0; pos < raw.length;) {
    const c = raw[pos];
    if (c === ' ' || c === '\t') {
      pos++;
    } else if (c === ',') {
      pos++;
      afterTag = false;
    } else {
      ENTITY_TAG.lastIndex = pos;
      const m = afterTag ? null : ENTITY_TAG.exec(raw);
      if (!m) throw malformedIfMatch();
      if (m[1] === undefined) strong.push(m[2] ?? '');
      tags++;
      afterTag = true;
      pos = ENTITY_TAG.lastIndex;
    }
  }
  if (tags === 0) throw malformedIfMatch();
  return strong;
}

function malformedIfMatch(): AppError {
  return new AppError(400, 'validation_failed', 'If-Match must be "*" or a list of quoted entity tags.', {
    errors: [{ field: 'header.If-Match', message: 'is not "*" or a list of quoted entity tags' }],
  });
}

/** Pacing for a streamed response body: wait until the receiver can take more; fails once it has gone. */
export interface StreamFlow {
  ready(): Promise<void>;
}

/** The receiver of a streamed response went away before the body was complete. */
export class ReceiverGoneError extends Error {
  override name = 'ReceiverGoneError';
}

// In HTTP streaming mode the worker answers on its own HTTP server, one request per invocation, marked
// with this header. @azure/functions writes a streamed body there without waiting for 'drain' and without
// noticing a closed connection (Azure/azure-functions-nodejs-library#294); Node's diagnostics channel hands
// us that response, so a producer can wait for it to drain and stop when it closes.
const INVOCATION_HEADER = 'x-ms-invocation-id';
const streamed = new Map<string, ServerResponse>();
subscribe('http.server.request.start', (message) => {
  const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
  const id = request.headers[INVOCATION_HEADER];
  if (typeof id !== 'string') return;
  streamed.set(id, response);
  response.once('close', () => streamed.delete(id));
});

/**
 * The flow control of an invocation's streamed response: `ready()` resolves at once while the connection
 * to the host takes data, waits for it to drain when its buffer is full, and rejects with ReceiverGoneError
 * once it has closed. Outside HTTP streaming (no such response) it never waits.
 */
export function streamFlow(context: InvocationContext): StreamFlow {
  const response = streamed.get(context.invocationId);
  const gone = () => response !== undefined && (response.destroyed || response.closed);
  return {
    ready: async () => {
      if (!response) return;
      if (gone()) throw new ReceiverGoneError('the receiver closed the connection');
      if (!response.writableNeedDrain) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          response.off('drain', done);
          response.off('close', done);
          resolve();
        };
        response.once('drain', done);
        response.once('close', done);
      });
      if (gone()) throw new ReceiverGoneError('the receiver closed the connection');
    },
  };
}
