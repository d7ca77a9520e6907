import { ClientOfflineError, ErrorReply, SocketClosedUnexpectedlyError } from 'redis';
import { describe, expect, it } from 'vitest';
import {
  AppError,
  ensureError,
  isRedisUnavailable,
  RedisDeadlineError,
  RedisUnavailableError,
  toErrorResponse,
} from '../../shared/errors.js';
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
  it('maps an AppError to problem+json with its status, code and field errors', () => {
    const ctx = testContext();
    const res = toErrorResponse(
      new AppError(404, 'sku_not_found', 'SKU x does not exist', {
        errors: [{ field: 'skuId', message: 'unknown' }],
      }),
      ctx,
    );
    expect(res.status).toBe(404);
    expect(res.headers).toMatchObject({ 'Content-Type': 'application/problem+json' });
    expect(body(res)).toEqual({
      type: 'https://httpstatuses.io/404',
      title: 'Not Found',
      status: 404,
      detail: 'SKU x does not exist',
      code: 'sku_not_found',
      errors: [{ field: 'skuId', message: 'unknown' }],
    });
    expect(ctx.logs).toEqual([]);
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
    expect(isRedisUnavailable(new AppError(400, 'bad', 'bad'))).toBe(false);
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
