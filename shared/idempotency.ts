// Idempotency-Key as the services see it: a plain value, recorded by the store in the hash slot of what
// the request changes, by the same script as the change.

/** An Idempotency-Key and the fingerprint of the request it came with (what a reuse is compared by). */
export interface Idempotency {
  key: string;
  fingerprint: string;
}

/** How long a key is remembered. */
export const IDEMPOTENCY_TTL_SECONDS = 86_400;

/** What a write did: applied now, or found already applied under its Idempotency-Key (replayed). */
export interface Outcome<T> {
  value: T;
  replayed: boolean;
}
