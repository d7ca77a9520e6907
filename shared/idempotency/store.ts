import type { Redis } from '../redis/client.js';
import { keys } from '../redis/keys.js';

/** What is kept under an idempotency key: a claim while running, then the response. */
export type IdempotencyRecord =
  | { state: 'pending'; fingerprint: string }
  | { state: 'done'; fingerprint: string; status: number; headers: Record<string, string>; body: unknown };

/** Claims the key for a first request; returns the existing record when someone already has it. */
export async function claim(
  redis: Redis,
  scope: string,
  key: string,
  fingerprint: string,
  ttlSeconds: number,
): Promise<IdempotencyRecord | undefined> {
  const k = keys.idempotency(scope, key);
  const pending: IdempotencyRecord = { state: 'pending', fingerprint };
  const set = await redis.set(k, JSON.stringify(pending), {
    condition: 'NX',
    expiration: { type: 'EX', value: ttlSeconds },
  });
  if (set === 'OK') return undefined;
  const raw = await redis.get(k);
  // Expired between the two calls: treat as a claim lost to a race, which the caller reports as in progress.
  return raw ? (JSON.parse(raw) as IdempotencyRecord) : pending;
}

/** Stores the finished response for replays. */
export async function complete(
  redis: Redis,
  scope: string,
  key: string,
  record: IdempotencyRecord,
  ttlSeconds: number,
): Promise<void> {
  await redis.set(keys.idempotency(scope, key), JSON.stringify(record), {
    expiration: { type: 'EX', value: ttlSeconds },
  });
}

/** Drops a claim so that the client may retry after a failure. */
export async function release(redis: Redis, scope: string, key: string): Promise<void> {
  await redis.del(keys.idempotency(scope, key));
}
