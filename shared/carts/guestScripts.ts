// The Lua of guest carts and of the merge at sign-in. A guest cart and the shopper's cart live in two hash
// slots, so the merge is three scripts, each in one slot, each safe to run again:
//   1. GUEST_FREEZE (guest slot): the guest cart takes no more writes and is promised to one shopper; its
//      lines are read in the same step, so every retry reads the same lines.
//   2. MERGE_APPLY (shopper slot): adds those lines and writes `{cart:{userId}}:merged:{hash}` in the
//      same step; a second run finds the record and changes nothing.
//   3. GUEST_FINISH (guest slot): drops the frozen lines; the owner record stays as the tombstone that
//      answers a later merge with the same token.
// A crash or outage between any two steps leaves a state the next attempt completes, and no state in
// which the lines are added twice.
import { bad, fields, integer, type Reply, script, tagged } from '../redis/scripts.js';
import { CART_LUA, cartWrite } from './scripts.js';

/** KEYS: owner. ARGV: ttl s. Opens a guest cart (empty, live); 0 when the record exists already. */
export const GUEST_OPEN = script(
  `
local owner, ttl = KEYS[1], ARGV[1]
if redis.call('EXISTS', owner) == 1 then return 0 end
redis.call('HSET', owner, 'live', '1', 'closed', '0')
redis.call('EXPIRE', owner, ttl)
return 1
`,
  integer,
);

/** What freezing a guest cart for a merge found: no live cart, a cart promised to another shopper, or its lines. */
export type GuestFreeze =
  { status: 'absent' } | { status: 'taken' } | { status: 'frozen'; lines: Record<string, string> };

const guestFreeze: Reply<GuestFreeze> = (raw) => {
  const [status, [payload]] = tagged(raw);
  if (status === 'absent' || status === 'taken') return { status };
  if (status === 'frozen') return { status, lines: fields(payload) };
  throw bad('a freeze outcome', raw);
};

/**
 * KEYS: guest cart, guest owner. ARGV: the shopper's user id, ttl s. Freezes the guest cart for this
 * shopper (or finds it frozen for them already) and answers its lines; a cart frozen for another shopper
 * is 'taken'. The frozen cart and its record keep `ttl`, so an interrupted merge can be finished later.
 */
export const GUEST_FREEZE = script(
  `
local cart, owner, userId, ttl = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local st = redis.call('HMGET', owner, 'live', 'closed', 'into')
if st[1] ~= '1' then return {'absent'} end
if st[2] == '1' then
  if st[3] ~= userId then return {'taken'} end
else
  redis.call('HSET', owner, 'closed', '1', 'into', userId)
  redis.call('EXPIRE', owner, ttl)
  if redis.call('EXISTS', cart) == 1 then redis.call('EXPIRE', cart, ttl) end
end
return {'frozen', redis.call('HGETALL', cart)}
`,
  guestFreeze,
);

/**
 * KEYS: cart, owner, merge record. ARGV: generation, max per line, cart ttl s, record ttl s, then the
 * guest's lines as sku, quantity pairs. Adds each line to the shopper's (summed, capped at the maximum
 * and never lowering a line) unless the record says this guest cart was merged here already ('replayed').
 */
export const MERGE_APPLY = script(
  `${CART_LUA}
local cart, owner, record = KEYS[1], KEYS[2], KEYS[3]
local g, max, ttl, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
if redis.call('EXISTS', record) == 1 then return {'replayed', redis.call('HGETALL', cart)} end
if not owns(owner, cart, g, false) then return {'gone'} end
for i = 5, #ARGV - 1, 2 do
  local add = qty(ARGV[i + 1])
  if add > 0 then
    local cur = qty(redis.call('HGET', cart, ARGV[i]))
    redis.call('HSET', cart, ARGV[i], string.format('%d', math.max(cur, math.min(cur + add, max))))
  end
end
redis.call('SET', record, '1', 'EX', keep)
return done(cart, owner, ttl, nil, nil)
`,
  cartWrite,
);

/** KEYS: guest cart, guest owner. ARGV: ttl s. Drops a frozen guest cart's lines; its record stays `ttl` as the tombstone. */
export const GUEST_FINISH = script(
  `
local cart, owner, ttl = KEYS[1], KEYS[2], ARGV[1]
if redis.call('HGET', owner, 'closed') ~= '1' then return 0 end
redis.call('DEL', cart)
redis.call('HSET', owner, 'merged', '1')
redis.call('EXPIRE', owner, ttl)
return 1
`,
  integer,
);
