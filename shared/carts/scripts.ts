// The cart's Lua, beside its store. Each script touches only keys in the cart's hash slot: cart:{userId},
// {cart:{userId}}:owner and {cart:{userId}}:idem:{key}. The owner record says which incarnation
// (generation) of the user the cart belongs to, so a write for a user deleted meanwhile is refused here,
// atomically, on a cluster too; the idempotency record is written by the same script as the change, so
// "applied" and "this key was applied" are one step.
import { createHash } from 'node:crypto';

import { IDEMPOTENCY_TTL_SECONDS } from '../idempotency.js';
import { bad, fields, integer, type Reply, type Script, script, tagged } from '../redis/scripts.js';

/** The outcome of an atomic cart script: the cart's lines after it ran, or why it did nothing. */
export type CartWrite =
  | { status: 'ok'; lines: Record<string, string> }
  | { status: 'replayed'; lines: Record<string, string> }
  | { status: 'reused' }
  | { status: 'limit'; current: number }
  | { status: 'precondition' }
  | { status: 'absent' }
  | { status: 'gone' };

export const cartWrite: Reply<CartWrite> = (raw) => {
  const [status, [payload]] = tagged(raw);
  switch (status) {
    case 'ok':
    case 'replayed':
      return { status, lines: fields(payload) };
    case 'limit':
      return { status, current: Number(payload) };
    case 'reused':
    case 'precondition':
    case 'absent':
    case 'gone':
      return { status };
    default:
      throw bad('a cart outcome', raw);
  }
};

export const CART_LUA = `
-- A line's quantity, or 0 for one that is not a whole number from 1 (a line written by hand, as "abc",
-- "-2" or "1.5"): such a line reads as unavailable and a write replaces it.
local function qty(v)
  if type(v) ~= 'string' or not string.match(v, '^%d+$') then return 0 end
  local n = tonumber(v)
  if n >= 1 and n < 1e15 then return n end
  return 0
end
-- The SHA1 of the cart's sorted "sku=qty" lines: what If-Match is checked against, atomically.
local function lines_hash(key)
  local flat = redis.call('HGETALL', key)
  local lines = {}
  for i = 1, #flat, 2 do lines[#lines + 1] = flat[i] .. '=' .. flat[i + 1] end
  -- Byte order, not table.sort's default: Lua compares strings with strcoll, which follows the locale.
  table.sort(lines, function(a, b)
    for i = 1, math.min(#a, #b) do
      local x, y = string.byte(a, i), string.byte(b, i)
      if x ~= y then return x < y end
    end
    return #a < #b
  end)
  return redis.sha1hex(table.concat(lines, '\\n'))
end
-- May generation g write the cart? Not once it was deleted (g <= closed) or replaced (g < live). A newer
-- generation takes the cart over and starts it empty, since what is there belongs to an older
-- incarnation; unless no generation ever owned it (a cart written outside the API, as in the classic
-- demo), which is kept, except when a new user is created (fresh).
local function owns(owner, cart, g, fresh)
  local st = redis.call('HMGET', owner, 'live', 'closed')
  local live, closed = tonumber(st[1] or '0'), tonumber(st[2] or '0')
  if g <= closed or g < live then return false end
  if g > live then
    if fresh or live > 0 or closed > 0 then redis.call('DEL', cart) end
    redis.call('HSET', owner, 'live', g)
    redis.call('PERSIST', owner)
  end
  return true
end
-- A request whose Idempotency-Key was applied already: the same request is answered with the cart as it
-- is now, another one with the same key is refused; nil when the key is new (or there is none).
local function seen(record, fingerprint, cart)
  if record == nil then return nil end
  local was = redis.call('GET', record)
  if not was then return nil end
  if was ~= fingerprint then return {'reused'} end
  return {'replayed', redis.call('HGETALL', cart)}
end
-- A guest cart lives as long as its owner record, which expires (a user's owner record never does once a
-- generation owns the cart): a write refreshes both.
local function done(cart, owner, ttl, record, fingerprint)
  if record ~= nil then redis.call('SET', record, fingerprint, 'EX', ${IDEMPOTENCY_TTL_SECONDS}) end
  if redis.call('EXISTS', cart) == 1 then redis.call('EXPIRE', cart, ttl) end
  if redis.call('PTTL', owner) > 0 then redis.call('EXPIRE', owner, ttl) end
  return {'ok', redis.call('HGETALL', cart)}
end
`;

// A guest cart's write first checks that the cart is live: an expired owner record must not be taken over
// (as a user's is by its first generation), and a frozen one (a merge began) takes no more writes.
const GUEST_GUARD = `
if redis.call('HGET', KEYS[2], 'live') ~= '1' then return {'gone'} end
`;

/** A cart write script and its guest twin (the same body behind the guest guard; KEYS[2] is the owner). */
function cartScript(body: string): [Script<CartWrite>, Script<CartWrite>] {
  return [script(CART_LUA + body, cartWrite), script(CART_LUA + GUEST_GUARD + body, cartWrite)];
}

/**
 * KEYS: cart, owner[, idempotency record]. ARGV: sku, quantity, max per line, ttl s, generation[,
 * fingerprint]. Adds to a line unless past the max.
 */
export const [CART_ADD, GUEST_CART_ADD] = cartScript(`
local cart, owner, record = KEYS[1], KEYS[2], KEYS[3]
local sku, add, max, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local g, fingerprint = tonumber(ARGV[5]), ARGV[6]
local replay = seen(record, fingerprint, cart)
if replay then return replay end
if not owns(owner, cart, g, false) then return {'gone'} end
local cur = qty(redis.call('HGET', cart, sku))
if cur + add > max then return {'limit', tostring(cur)} end
redis.call('HSET', cart, sku, string.format('%d', cur + add))
return done(cart, owner, ttl, record, fingerprint)
`);

/** KEYS: cart, owner. ARGV: sku, quantity (0 removes), ttl s, expected lines hash or '', generation. */
export const [CART_SET, GUEST_CART_SET] = cartScript(`
local cart, owner = KEYS[1], KEYS[2]
local sku, quantity, ttl, expected, g = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], tonumber(ARGV[5])
if not owns(owner, cart, g, false) then return {'gone'} end
if expected ~= '' and lines_hash(cart) ~= expected then return {'precondition'} end
if quantity == 0 then
  redis.call('HDEL', cart, sku)
else
  redis.call('HSET', cart, sku, ARGV[2])
end
return done(cart, owner, ttl, nil, nil)
`);

/**
 * KEYS: cart, owner[, idempotency record]. ARGV: sku, quantity or '' (whole line), ttl s, expected lines
 * hash or '', generation[, fingerprint]. The lines hash is compared before anything else: a stale tag is
 * 412 whatever the line holds.
 */
export const [CART_REMOVE, GUEST_CART_REMOVE] = cartScript(`
local cart, owner, record = KEYS[1], KEYS[2], KEYS[3]
local sku, quantity, ttl, expected = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local g, fingerprint = tonumber(ARGV[5]), ARGV[6]
local replay = seen(record, fingerprint, cart)
if replay then return replay end
if not owns(owner, cart, g, false) then return {'gone'} end
if expected ~= '' and lines_hash(cart) ~= expected then return {'precondition'} end
local raw = redis.call('HGET', cart, sku)
if not raw then return {'absent'} end
local cur = qty(raw)
if quantity == '' or cur <= tonumber(quantity) then
  redis.call('HDEL', cart, sku)
else
  redis.call('HSET', cart, sku, string.format('%d', cur - tonumber(quantity)))
end
return done(cart, owner, ttl, record, fingerprint)
`);

/** KEYS: cart, owner. ARGV: generation. Empties the cart of a live user; 'gone' otherwise. */
export const [CART_CLEAR, GUEST_CART_CLEAR] = cartScript(`
local cart, owner, g = KEYS[1], KEYS[2], tonumber(ARGV[1])
if not owns(owner, cart, g, false) then return {'gone'} end
redis.call('DEL', cart)
return {'ok', {}}
`);

/**
 * KEYS: owner. ARGV: ttl s. Issues the next generation of a user id, always above every generation the
 * record knows. Until a generation takes the cart over the record expires (a user create that fails after
 * this leaves nothing behind for good); a live owner's record is kept.
 */
export const CART_RESERVE = script(
  `
local owner, ttl = KEYS[1], ARGV[1]
local st = redis.call('HMGET', owner, 'live', 'closed')
local live, closed = tonumber(st[1] or '0'), tonumber(st[2] or '0')
local g = redis.call('HINCRBY', owner, 'next', 1)
if g <= math.max(live, closed) then
  g = math.max(live, closed) + 1
  redis.call('HSET', owner, 'next', g)
end
if live > closed then
  redis.call('PERSIST', owner)
elseif redis.call('TTL', owner) < tonumber(ttl) then
  redis.call('EXPIRE', owner, ttl)
end
return g
`,
  integer,
);

/** KEYS: cart, owner. ARGV: generation. Gives a new user an empty cart; 1, or 0 when g is stale. */
export const CART_OPEN = script(
  `${CART_LUA}
return owns(KEYS[2], KEYS[1], tonumber(ARGV[1]), true) and 1 or 0
`,
  integer,
);

/**
 * KEYS: owner, cart. ARGV: generation, ttl s. Marks generation g deleted and drops its cart; from then on
 * no write of g succeeds. The record outlives the user by `ttl` so that late writes still find it.
 */
export const CART_CLOSE = script(
  `
local owner, cart, g, ttl = KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2]
local st = redis.call('HMGET', owner, 'live', 'closed')
local live, closed = tonumber(st[1] or '0'), tonumber(st[2] or '0')
if g > closed then
  redis.call('HSET', owner, 'closed', g)
  closed = g
end
if live <= g then redis.call('DEL', cart) end
if live <= closed then redis.call('EXPIRE', owner, ttl) end
return 1
`,
  integer,
);

/**
 * KEYS: cart, owner. The lines and the owner record read together, in one step (the lines as a flat
 * list, so that a SKU id such as `__proto__` survives the reply).
 */
export const CART_READ = script(
  `
return {redis.call('HGETALL', KEYS[1]), redis.call('HMGET', KEYS[2], 'live', 'closed')}
`,
  (raw): { lines: Record<string, string>; live: number; closed: number } => {
    if (!Array.isArray(raw) || !Array.isArray(raw[1])) throw bad('[lines, [live, closed]]', raw);
    const [live, closed] = (raw[1] as unknown[]).map((v) => Number(v ?? 0));
    return { lines: fields(raw[0]), live: live ?? 0, closed: closed ?? 0 };
  },
);

/**
 * A line's quantity as stored, or 0 for one that is not a whole number from 1 (written by hand: "abc",
 * "-2", "1.5"): the rule of `qty` in the Lua above, for reads (a parity test keeps the two equal).
 */
export function lineQuantity(stored: string | undefined): number {
  if (stored === undefined || !/^\d+$/.test(stored)) return 0;
  const n = Number(stored);
  return n >= 1 && n < 1e15 ? n : 0;
}

/** The lines hash computed as `lines_hash` does in Lua (byte order of "sku=qty"), from a cart's fields. */
export function linesHash(lines: Record<string, string>): string {
  const body = Object.entries(lines)
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join('\n');
  return createHash('sha1').update(body).digest('hex');
}
