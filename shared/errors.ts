// The application's errors: one catalogue of every error the API answers, the factories that are the only
// way to make one, and the errors that say Redis or the queue is unavailable. Nothing here knows HTTP
// beyond the status each code stands for; turning errors into responses is shared/http.ts's job.
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

/** Every error code the API can answer, with its HTTP status. */
export const ERROR_STATUS = {
  validation_failed: 400,
  body_required: 400,
  invalid_json: 400,
  invalid_cursor: 400,
  unauthorized: 401,
  forbidden: 403,
  user_not_found: 404,
  sku_not_found: 404,
  cart_line_not_found: 404,
  guest_cart_not_found: 404,
  load_not_found: 404,
  list_not_found: 404,
  asset_not_found: 404,
  user_exists: 409,
  quantity_limit_exceeded: 409,
  load_in_progress: 409,
  load_finished: 409,
  list_replaced: 410,
  precondition_failed: 412,
  body_too_large: 413,
  unsupported_media_type: 415,
  idempotency_key_reused: 422,
  internal_error: 500,
  sign_in_not_configured: 501,
  auth_unavailable: 503,
  redis_unavailable: 503,
  queue_unavailable: 503,
} as const;

/** A stable, machine-readable error code. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** One field that failed validation. */
export interface FieldError {
  field: string;
  message: string;
}

/** What an error may carry besides its message. */
export interface ErrorDetails {
  /** The fields that failed validation. */
  errors?: FieldError[];
  /** When the client may try again, in seconds. */
  retryAfterSeconds?: number;
  /** The API path of the resource the error is about (e.g. the load that is running). */
  see?: string;
  /** The challenge of a 401 (RFC 6750), sent as WWW-Authenticate. */
  wwwAuthenticate?: string;
  cause?: unknown;
}

/** The application's one error type: a code from the catalogue, its status and a message safe to show. */
export class AppError extends Error {
  override name = 'AppError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message, { cause: details.cause });
    this.status = ERROR_STATUS[code];
  }
}

/** The catalogue's factories: the only way to make an AppError (ESLint refuses `new AppError` elsewhere). */
export const errors = {
  /** Input that fails its schema, with every failing field. */
  validationFailed: (fields: FieldError[]) =>
    new AppError('validation_failed', `Invalid ${fields.map((e) => `${e.field} ${e.message}`).join('; ')}`, {
      errors: fields,
    }),
  /** An empty body where one is required. */
  bodyRequired: () => new AppError('body_required', 'A JSON body is required.'),
  /** A body that is not JSON. */
  invalidJson: (why = 'The body is not valid JSON.') => new AppError('invalid_json', why),
  /** A cursor this API did not issue, or one for another order. */
  invalidCursor: (why = 'The cursor is not one this API issued.') => new AppError('invalid_cursor', why),
  /** No such user. */
  userNotFound: (id: string) => new AppError('user_not_found', `User ${id} does not exist.`),
  /** No such SKU. */
  skuNotFound: (id: string) => new AppError('sku_not_found', `SKU ${id} does not exist.`),
  /** No line for that SKU in the cart (a user's, or the guest cart when `userId` is null). */
  cartLineNotFound: (userId: string | null, skuId: string) =>
    new AppError(
      'cart_line_not_found',
      `${userId === null ? 'The guest cart' : `The cart of ${userId}`} has no line for ${skuId}.`,
    ),
  /** No guest cart for this cart token: never issued, expired, or merged into a shopper's cart. */
  guestCartNotFound: () =>
    new AppError(
      'guest_cart_not_found',
      'There is no guest cart for this cart token (it expired or was merged).',
    ),
  /** No such load (or long replaced). */
  loadNotFound: (id: string) => new AppError('load_not_found', `Load ${id} does not exist.`),
  /** Nothing published yet. */
  listNotFound: () => new AppError('list_not_found', 'No list has been published yet.'),
  /** No such page or static file (or the pages were not built: `npm run build`). */
  assetNotFound: (name: string) => new AppError('asset_not_found', `There is no ${name} here.`),
  /** The user id is taken. */
  userExists: (id: string) => new AppError('user_exists', `User ${id} already exists.`),
  /** A line would pass the per-line maximum. */
  quantityLimitExceeded: (max: number, line?: { skuId: string; current: number }) =>
    new AppError(
      'quantity_limit_exceeded',
      line
        ? `A cart line may hold at most ${max}; ${line.skuId} has ${line.current}.`
        : `A cart line may hold at most ${max}.`,
    ),
  /** Another load is making progress (or several are being started at once). */
  loadInProgress: (activeId?: string) =>
    activeId
      ? new AppError('load_in_progress', `Load ${activeId} is still running; one load at a time.`, {
          see: `/biglist/loads/${activeId}`,
        })
      : new AppError('load_in_progress', 'Other loads are being started right now; retry.', {
          retryAfterSeconds: 1,
        }),
  /** Only a load in progress can be cancelled. */
  loadFinished: (id: string, state: string) =>
    new AppError(
      'load_finished',
      `Load ${id} is already ${state}; only a load in progress can be cancelled.`,
    ),
  /** The list a cursor points into is gone. */
  listReplaced: (why: string) =>
    new AppError('list_replaced', `The list ${why}; start again without a cursor.`),
  /** If-Match names no current ETag. */
  preconditionFailed: () =>
    new AppError(
      'precondition_failed',
      'The cart (or a price in it) changed since the ETag in If-Match was issued.',
    ),
  /** A body past the size limit. */
  bodyTooLarge: (max: number) => new AppError('body_too_large', `The body must not exceed ${max} bytes.`),
  /** A body that is not JSON by its media type. */
  unsupportedMediaType: () =>
    new AppError('unsupported_media_type', 'Send the body as application/json in UTF-8 (no other charset).'),
  /** The Idempotency-Key was used with another body. */
  idempotencyKeyReused: () =>
    new AppError('idempotency_key_reused', 'This Idempotency-Key was used with a different request body.'),
  /** No bearer token (RFC 6750: a bare challenge), or one that failed verification (`invalid_token`). */
  unauthorized: (why?: string) =>
    new AppError(
      'unauthorized',
      why ? `The access token is not valid: ${why}.` : 'Sign in: send a bearer access token.',
      {
        wwwAuthenticate: why
          ? `Bearer error="invalid_token", error_description="${why.replace(/["\\]/g, '')}"`
          : 'Bearer',
      },
    ),
  /** A valid token without the role the route needs. */
  forbidden: (role: string) =>
    new AppError('forbidden', `This needs the ${role} role.`, {
      wwwAuthenticate: 'Bearer error="insufficient_scope"',
    }),
  /** The issuer's signing keys could not be fetched in time for a token that needs them. */
  authUnavailable: () =>
    new AppError('auth_unavailable', "The sign-in provider's keys could not be fetched. Retry later.", {
      retryAfterSeconds: 5,
    }),
  /** A shopper route on an app without AUTH_ISSUER. */
  signInNotConfigured: () =>
    new AppError('sign_in_not_configured', 'Sign-in is not configured on this app (AUTH_ISSUER is not set).'),
};

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

/** A delivery that must be tried again (a segment cut short): thrown so that the queue redelivers it. */
export class DeliveryRetryError extends Error {
  override name = 'DeliveryRetryError';
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
