// Idempotency-Key: a header in, a replayed response out. The records live in shared/idempotency/store.ts.
import { createHash } from 'node:crypto';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { errors } from '../errors.js';
import { ID_PATTERN } from '../ids.js';
import { claim, complete, release } from '../idempotency/store.js';
import { getRedis } from '../redis/client.js';
import { parseWith } from './request.js';

const DAY_SECONDS = 86_400;
// How long a claim may stay unfinished before another attempt may take over (e.g. the worker died).
const CLAIM_SECONDS = 60;

/** The Idempotency-Key header. */
export const IdempotencyHeader = z
  .string()
  .regex(ID_PATTERN, { error: 'must be 1-64 characters of A-Z a-z 0-9 _ -' })
  .optional();

/** The validated Idempotency-Key header, if any. */
export function idempotencyKey(request: HttpRequest): string | undefined {
  return parseWith(IdempotencyHeader, request.headers.get('idempotency-key') ?? undefined, 'header');
}

/**
 * Runs `produce` at most once per (scope, key) for 24 hours: a retry with the same key and body gets the
 * first response again (with `Idempotent-Replayed: true`); the same key with another body is 422.
 * Only what happened is recorded: a failure (4xx, 503, anything thrown) releases the key so that the retry
 * really runs; a success is stored for replays, and if storing it fails the client still gets the success
 * (the claim then expires after a minute), never an error for an action that was performed.
 */
export async function withIdempotency(
  scope: string,
  key: string | undefined,
  requestBody: string,
  produce: () => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  if (key === undefined) return produce();
  const fingerprint = createHash('sha256').update(requestBody).digest('hex');
  const redis = await getRedis();
  const existing = await claim(redis, scope, key, fingerprint, CLAIM_SECONDS);
  if (existing) {
    if (existing.fingerprint !== fingerprint) throw errors.idempotencyKeyReused();
    if (existing.state === 'pending') throw errors.idempotencyInProgress();
    return {
      status: existing.status,
      headers: { ...existing.headers, 'Idempotent-Replayed': 'true' },
      jsonBody: existing.body,
    };
  }
  let response: HttpResponseInit;
  try {
    response = await produce();
  } catch (err) {
    await release(redis, scope, key).catch(() => undefined);
    throw err;
  }
  const status = response.status ?? 200;
  if (status >= 200 && status < 300) {
    const headers = Object.fromEntries(Object.entries((response.headers ?? {}) as Record<string, string>));
    await complete(
      redis,
      scope,
      key,
      { state: 'done', fingerprint, status, headers, body: response.jsonBody },
      DAY_SECONDS,
    ).catch(() => undefined);
  } else {
    await release(redis, scope, key).catch(() => undefined);
  }
  return response;
}
