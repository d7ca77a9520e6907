import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ErrorReply,
  MaxCommandRedirectionsError,
  ReconnectStrategyError,
  RootNodesUnavailableError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
} from 'redis';
import { getConfig } from './config.js';

/** One field that failed validation. */
export interface FieldError {
  field: string;
  message: string;
}

/** The application's one error type: an HTTP status, a stable code and a message safe to show. */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: extra.cause });
  }
}

/** Redis could not be reached (connect failed or timed out); maps to 503. */
export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/** Redis did not answer within the deadline (a stalled or black-holed connection); maps to 503. */
export class RedisDeadlineError extends RedisUnavailableError {
  override name = 'RedisDeadlineError';
}

/** The Storage queue could not take messages in time; maps to 503. */
export class QueueUnavailableError extends Error {
  override name = 'QueueUnavailableError';
}

/** Turns any thrown value into an Error, so callers never handle strings or plain objects. */
export function ensureError(value: unknown): Error {
  if (value instanceof Error) return value;
  let text: string;
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return new Error(`Non-error value thrown: ${text}`);
}

// Server states that pass: out of memory (writes refused under noeviction, reads still served), loading
// a dataset, a busy script, a failover in progress (READONLY, MASTERDOWN), cluster slots moving or down.
const UNAVAILABLE_REPLY = /^(OOM|LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS)\b/;
const UNAVAILABLE_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** True when the error means "Redis is unreachable or not serving now", which a retry can fix. */
export function isRedisUnavailable(err: unknown): boolean {
  if (
    err instanceof RedisUnavailableError ||
    err instanceof ClientClosedError ||
    err instanceof ClientOfflineError ||
    err instanceof ConnectionTimeoutError ||
    err instanceof DisconnectsClientError ||
    err instanceof SocketClosedUnexpectedlyError ||
    err instanceof SocketTimeoutError ||
    err instanceof TimeoutError ||
    err instanceof ReconnectStrategyError ||
    err instanceof RootNodesUnavailableError ||
    err instanceof MaxCommandRedirectionsError
  ) {
    return true;
  }
  if (err instanceof ErrorReply) return UNAVAILABLE_REPLY.test(err.message);
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined && UNAVAILABLE_ERRNO.has(code)) return true;
    if (err instanceof AggregateError) return err.errors.some(isRedisUnavailable);
    // "The queue is full" is a bare Error: the client is overloaded, so shed load the same way.
    if (err.message === 'The queue is full') return true;
  }
  return false;
}

/** An RFC 9457 problem document, plus our stable `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldError[];
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Builds a problem+json response with the given status, code and detail. */
export function problemResponse(
  status: number,
  code: string,
  detail: string,
  extra: { errors?: FieldError[]; headers?: Record<string, string> } = {},
): HttpResponseInit {
  const body: Problem = {
    type: `https://httpstatuses.io/${status}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...(extra.errors ? { errors: extra.errors } : {}),
  };
  return {
    status,
    headers: { 'Content-Type': 'application/problem+json', ...extra.headers },
    body: JSON.stringify(body),
  };
}

/** The single mapper from any thrown value to an HTTP response; never leaks internals. */
export function toErrorResponse(thrown: unknown, context: InvocationContext): HttpResponseInit {
  const err = ensureError(thrown);
  if (err instanceof AppError) {
    if (err.status >= 500) context.error(err);
    return problemResponse(err.status, err.code, err.message, err.extra);
  }
  const unavailable = isRedisUnavailable(err)
    ? { code: 'redis_unavailable', detail: 'The data store is temporarily unavailable. Retry later.' }
    : err instanceof QueueUnavailableError
      ? { code: 'queue_unavailable', detail: 'The work queue is temporarily unavailable. Retry later.' }
      : undefined;
  if (unavailable) {
    context.warn(`${unavailable.code}: ${err.name}: ${err.message}`);
    let retryAfter = 5;
    try {
      retryAfter = getConfig().retryAfterSeconds;
    } catch {
      // A broken config is reported elsewhere; the default still tells clients when to retry.
    }
    return problemResponse(503, unavailable.code, unavailable.detail, {
      headers: { 'Retry-After': String(retryAfter) },
    });
  }
  context.error(err);
  return problemResponse(500, 'internal_error', 'An unexpected error occurred.');
}
