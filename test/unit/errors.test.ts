import { ClientOfflineError, ErrorReply, SocketClosedUnexpectedlyError } from 'redis';
import { describe, expect, it } from 'vitest';

import {
  ensureError,
  ERROR_STATUS,
  errors,
  isRedisUnavailable,
  QueueUnavailableError,
  RedisDeadlineError,
  RedisUnavailableError,
} from '../../shared/errors.js';
import { toErrorResponse } from '../../shared/http/problem.js';
import { testContext } from '../support/context.js';

function body(res: { body?: unknown }): Record<string, unknown> {
  return JSON.parse(res.body as string) as Record<string, unknown>;
}

function refused(): Error {
  const e: NodeJS.ErrnoException = new Error('connect ECONNREFUSED 127.0.0.1:6379');
  e.code = 'ECONNREFUSED';
  return e;
}

describe('toErrorResponse', () => {
  it('maps a catalogued error to problem+json with its status, code and field errors', () => {
    const ctx = testContext();
    const res = toErrorResponse(
      errors.validationFailed([{ field: 'body.skuId', message: 'is required' }]),
      ctx,
    );
    expect(res.status).toBe(400);
    expect(res.headers).toMatchObject({ 'Content-Type': 'application/problem+json' });
    expect(body(res)).toEqual({
      type: 'urn:problem-type:azure-redis-cart:validation_failed',
      title: 'Bad Request',
      status: 400,
      detail: 'Invalid body.skuId is required',
      code: 'validation_failed',
      errors: [{ field: 'body.skuId', message: 'is required' }],
    });
    expect(ctx.logs).toEqual([]);
  });

  it('turns retry hints and related resources into Retry-After and Location', () => {
    expect(toErrorResponse(errors.loadInProgress('abc123'), testContext()).headers).toMatchObject({
      Location: '/api/biglist/loads/abc123',
    });
  });

  it('sends the Bearer challenge of RFC 6750 with a 401, and invalid_token for a bad token', () => {
    expect(toErrorResponse(errors.unauthorized(), testContext()).headers).toMatchObject({
      'WWW-Authenticate': 'Bearer',
    });
    const bad = toErrorResponse(errors.unauthorized('expired'), testContext());
    expect([bad.status, (bad.headers as Record<string, string>)['WWW-Authenticate']]).toEqual([
      401,
      'Bearer error="invalid_token", error_description="expired"',
    ]);
    expect(toErrorResponse(errors.authUnavailable(), testContext()).headers).toMatchObject({
      'Retry-After': '5',
    });
  });

  it('maps a queue that cannot take messages to 503 queue_unavailable with Retry-After', () => {
    const res = toErrorResponse(new QueueUnavailableError('storage down'), testContext());
    expect([res.status, body(res).code]).toEqual([503, 'queue_unavailable']);
    expect(res.headers).toMatchObject({ 'Retry-After': '5' });
  });

  it.each([
    new ClientOfflineError(),
    new SocketClosedUnexpectedlyError(),
    new RedisUnavailableError('down'),
    new ErrorReply('LOADING Redis is loading the dataset in memory'),
    new ErrorReply('CLUSTERDOWN The cluster is down'),
    refused(),
  ] as Error[])('maps the connectivity error %s to 503 with Retry-After', (err) => {
    const res = toErrorResponse(err, testContext());
    expect(res.status).toBe(503);
    expect(res.headers).toMatchObject({ 'Content-Type': 'application/problem+json', 'Retry-After': '5' });
    expect(body(res)).toMatchObject({ status: 503, code: 'redis_unavailable' });
  });

  it('answers unknown errors with a generic 500 that leaks no internals, and logs them', () => {
    const ctx = testContext();
    const res = toErrorResponse(
      new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind of value'),
      ctx,
    );
    expect(res.status).toBe(500);
    const text = res.body as string;
    expect(text).not.toMatch(/WRONGTYPE|stack|at /);
    expect(body(res)).toMatchObject({ code: 'internal_error', detail: 'An unexpected error occurred.' });
    expect(ctx.logs.join('\n')).toMatch(/error: .*WRONGTYPE/);
  });
});

describe('ensureError', () => {
  it('wraps thrown strings and objects in an Error', () => {
    expect(ensureError('boom').message).toContain('boom');
    expect(ensureError({ a: 1 }).message).toContain('{"a":1}');
    const e = new Error('x');
    expect(ensureError(e)).toBe(e);
  });
});

describe('isRedisUnavailable', () => {
  it('is false for application errors and command errors', () => {
    expect(isRedisUnavailable(errors.userNotFound('x'))).toBe(false);
    expect(isRedisUnavailable(new ErrorReply('ERR syntax error'))).toBe(false);
    expect(isRedisUnavailable('text')).toBe(false);
  });
});

describe('transient server states', () => {
  it.each([
    "OOM command not allowed when used memory > 'maxmemory'.",
    "OOM command not allowed when used memory > 'maxmemory'. script: abc, on @user_script:5.",
    'LOADING Redis is loading the dataset in memory',
    'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.',
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    'CLUSTERDOWN The cluster is down',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    "READONLY You can't write against a read only replica.",
    'NOREPLICAS Not enough good replicas to write.',
  ])('maps "%s" to 503 with Retry-After', (message) => {
    const res = toErrorResponse(new ErrorReply(message), testContext());
    expect(res.status).toBe(503);
    expect(res.headers).toMatchObject({ 'Retry-After': '5' });
  });

  it.each(['WRONGTYPE Operation against a key holding the wrong kind of value', 'ERR syntax error'])(
    'keeps "%s" a 500: a retry cannot fix it',
    (message) => {
      expect(toErrorResponse(new ErrorReply(message), testContext()).status).toBe(500);
    },
  );

  it('maps a missed deadline to 503', () => {
    expect(isRedisUnavailable(new RedisDeadlineError('PING took too long'))).toBe(true);
  });
});

describe('the error catalogue', () => {
  it('gives every factory a code of the catalogue and its status', () => {
    const made = [
      errors.validationFailed([]),
      errors.bodyRequired(),
      errors.invalidJson(),
      errors.invalidCursor(),
      errors.userNotFound('u'),
      errors.skuNotFound('s'),
      errors.cartLineNotFound('u', 's'),
      errors.guestCartNotFound(),
      errors.loadNotFound('l'),
      errors.listNotFound(),
      errors.assetNotFound('page docs'),
      errors.userExists('u'),
      errors.quantityLimitExceeded(3),
      errors.loadInProgress(),
      errors.loadFinished('l', 'completed'),
      errors.listReplaced('was replaced'),
      errors.preconditionFailed(),
      errors.bodyTooLarge(10),
      errors.unsupportedMediaType(),
      errors.idempotencyKeyReused(),
      errors.unauthorized(),
      errors.forbidden('Cart.Admin'),
      errors.authUnavailable(),
      errors.signInNotConfigured(),
    ];
    for (const e of made) expect([e.code, e.status]).toEqual([e.code, ERROR_STATUS[e.code]]);
    // Every catalogued code is made by a factory, or by the mapper (internal and unavailable errors).
    const produced = new Set([
      ...made.map((e) => e.code),
      'internal_error',
      'redis_unavailable',
      'queue_unavailable',
    ]);
    expect(Object.keys(ERROR_STATUS).filter((c) => !produced.has(c as never))).toEqual([]);
  });
});
