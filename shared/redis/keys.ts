import { getConfig } from '../config.js';
import { ID_PATTERN } from '../ids.js';

function checked(id: string): string {
  // Ids are validated at the edge; this second check keeps a bug elsewhere from building a foreign key.
  if (!ID_PATTERN.test(id))
    throw new Error(`refusing to build a key from an invalid id: ${JSON.stringify(id)}`);
  return id;
}

const prefix = () => getConfig().keyPrefix;

/** Every Redis key the app uses, built from validated ids; the only place key names are spelled. */
export const keys = {
  /** `user:{id}` Hash: first_name, last_name, email. */
  user: (id: string) => `${prefix()}user:${checked(id)}`,
  /** `sku:{id}` Hash: name, price (decimal string). */
  sku: (id: string) => `${prefix()}sku:${checked(id)}`,
  /** `skus` Sorted Set of every SKU id (score 0), for stable lexicographic paging. */
  skuIndex: () => `${prefix()}skus`,
  /** `cart:{userId}` Hash: SKU id -> quantity. */
  cart: (userId: string) => `${prefix()}cart:${checked(userId)}`,
  /** `idempotency:{scope}:{key}` String: the stored outcome of a request, kept 24 hours. */
  idempotency: (scope: string, key: string) => `${prefix()}idempotency:${scope}:${checked(key)}`,
};
