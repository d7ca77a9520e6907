// Idempotency-Key: the header in, a fingerprint of the request out. The record of a key is written by
// the store, in the same script (and hash slot) as the change it stands for, so "applied" and "this key
// was applied" are one atomic step: a retry of an applied key is answered with the success, never applied
// twice, and a key whose effect is unknown is never released for another application.
import { createHash } from 'node:crypto';

import type { HttpRequest } from '@azure/functions';
import { z } from 'zod';

import type { Idempotency } from '../idempotency.js';
import { ID_PATTERN } from '../ids.js';
import { parseWith } from './request.js';

/** The Idempotency-Key header. */
export const IdempotencyHeader = z
  .string()
  .regex(ID_PATTERN, { error: 'must be 1-64 characters of A-Z a-z 0-9 _ -' })
  .optional();

/**
 * The validated Idempotency-Key of a request, with the fingerprint of what it asks (`scope` names the
 * operation and its target, `body` is the raw body): the same key with another request is 422.
 */
export function idempotencyOf(request: HttpRequest, scope: string, body: string): Idempotency | undefined {
  const key = parseWith(IdempotencyHeader, request.headers.get('idempotency-key') ?? undefined, 'header');
  if (key === undefined) return undefined;
  const fingerprint = createHash('sha256').update(scope).update('\n').update(body).digest('hex');
  return { key, fingerprint };
}

/** The headers of a response to a request that was found already applied. */
export function replayedHeaders(replayed: boolean): Record<string, string> {
  return replayed ? { 'Idempotent-Replayed': 'true' } : {};
}
