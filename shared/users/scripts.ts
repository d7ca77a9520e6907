// The Lua of users, beside their store: each script touches user:{id} and keys in its hash slot only.
import { IDEMPOTENCY_TTL_SECONDS } from '../idempotency.js';
import { integer, oneOf, script, text } from '../redis/scripts.js';

/** What creating a user did. */
export type UserCreate = 'created' | 'replayed' | 'reused' | 'exists';

/**
 * KEYS: user, generation[, idempotency record]. ARGV: generation, fingerprint or '', then field, value
 * pairs. Creates the user unless it exists; with an Idempotency-Key the key is recorded in the same step,
 * and a key applied before is 'replayed' (or 'reused' by another request).
 */
export const USER_CREATE = script(
  `
local user, generation, record = KEYS[1], KEYS[2], KEYS[3]
local g, fingerprint = ARGV[1], ARGV[2]
if record then
  local was = redis.call('GET', record)
  if was then return was == fingerprint and 'replayed' or 'reused' end
end
if redis.call('EXISTS', user) == 1 then return 'exists' end
redis.call('HSET', user, unpack(ARGV, 3))
redis.call('SET', generation, g)
if record then redis.call('SET', record, fingerprint, 'EX', ${IDEMPOTENCY_TTL_SECONDS}) end
return 'created'
`,
  oneOf<UserCreate>('created', 'replayed', 'reused', 'exists'),
);

/** KEYS: user, generation. ARGV: generation. Records g for a user made outside the API; returns the user's. */
export const USER_ADOPT = script(
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return '' end
local current = redis.call('GET', KEYS[2])
if current then return current end
redis.call('SET', KEYS[2], ARGV[1])
return ARGV[1]
`,
  text,
);

/** KEYS: user, generation. ARGV: generation. Deletes the user if it is still that incarnation; 1 or 0. */
export const USER_DELETE = script(
  `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`,
  integer,
);

/** KEYS: hash. ARGV: n fields to set, field, value, ..., then fields to delete. Updates an existing Hash only. */
export const HASH_UPDATE = script(
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[1])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 2, 1 + 2 * n)) end
for i = 2 + 2 * n, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
return 1
`,
  integer,
);
