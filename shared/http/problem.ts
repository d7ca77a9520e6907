// Errors as responses: the one mapper from anything thrown to an RFC 9457 problem+json response.
import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';

import { getConfig } from '../config.js';
import {
  AppError,
  ensureError,
  ERROR_STATUS,
  type ErrorCode,
  type FieldError,
  isRedisUnavailable,
  QueueUnavailableError,
} from '../errors.js';

const CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

/** RFC 9457 problem details, as every error is sent, plus our stable `code`. */
export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
  code: z.enum(CODES).meta({ description: 'Stable machine-readable error code' }),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});
/** RFC 9457 problem details (type). */
export type Problem = z.infer<typeof Problem>;

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

function retryAfter(): string {
  try {
    return String(getConfig().retryAfterSeconds);
  } catch {
    // A broken config is reported elsewhere; the default still tells clients when to retry.
    return '5';
  }
}

// The code of each problem response, for telemetry, without parsing the body back.
const codes = new WeakMap<HttpResponseInit, ErrorCode>();

/** The error code of a response made by problemResponse, if it was. */
export function problemCodeOf(res: HttpResponseInit): ErrorCode | undefined {
  return codes.get(res);
}

/** A problem+json response for a catalogued code. */
export function problemResponse(
  code: ErrorCode,
  detail: string,
  extra: { errors?: FieldError[] | undefined; headers?: Record<string, string> } = {},
): HttpResponseInit {
  const status = ERROR_STATUS[code];
  const body: Problem = {
    // One type per code (RFC 9457 section 3.1.1): clients tell problems apart by it, not by the status.
    type: `urn:problem-type:azure-redis-cart:${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...(extra.errors ? { errors: extra.errors } : {}),
  };
  const res: HttpResponseInit = {
    status,
    headers: { 'Content-Type': 'application/problem+json', ...extra.headers },
    body: JSON.stringify(body),
  };
  codes.set(res, code);
  return res;
}

/** The single mapper from any thrown value to an HTTP response; never leaks internals. */
export function toErrorResponse(thrown: unknown, context: InvocationContext): HttpResponseInit {
  const err = ensureError(thrown);
  if (err instanceof AppError) {
    const headers: Record<string, string> = {};
    if (err.details.retryAfterSeconds !== undefined)
      headers['Retry-After'] = String(err.details.retryAfterSeconds);
    if (err.details.see !== undefined) headers.Location = `/api${err.details.see}`;
    if (err.details.wwwAuthenticate !== undefined) headers['WWW-Authenticate'] = err.details.wwwAuthenticate;
    return problemResponse(err.code, err.message, { errors: err.details.errors, headers });
  }
  const unavailable = isRedisUnavailable(err)
    ? {
        code: 'redis_unavailable' as const,
        detail: 'The data store is temporarily unavailable. Retry later.',
      }
    : err instanceof QueueUnavailableError
      ? {
          code: 'queue_unavailable' as const,
          detail: 'The work queue is temporarily unavailable. Retry later.',
        }
      : undefined;
  if (unavailable) {
    context.warn(`${unavailable.code}: ${err.name}: ${err.message}`);
    return problemResponse(unavailable.code, unavailable.detail, {
      headers: { 'Retry-After': retryAfter() },
    });
  }
  context.error(err);
  return problemResponse('internal_error', 'An unexpected error occurred.');
}
