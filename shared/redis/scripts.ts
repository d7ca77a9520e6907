import { createHash } from 'node:crypto';
import { ErrorReply } from 'redis';
import type { Redis } from './client.js';

/** A Lua script with its SHA1, run by EVALSHA with an EVAL fallback. */
export interface Script {
  source: string;
  sha1: string;
}

function script(source: string): Script {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

/** Runs a script on the node owning its keys; loads it with EVAL when the server does not know it yet. */
export async function runScript(redis: Redis, s: Script, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await redis.evalSha(s.sha1, { keys, arguments: args });
  } catch (err) {
    if (err instanceof ErrorReply && err.message.startsWith('NOSCRIPT')) {
      return redis.eval(s.source, { keys, arguments: args });
    }
    throw err;
  }
}

// Shared Lua: the cart's version tag is the SHA1 of its sorted "sku=qty" lines, so If-Match needs no
// extra field in the Hash and no second key (each cart script touches only cart:{userId}).
const CART_ETAG = `
local function cart_etag(key)
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
local function precondition(key, expected)
  if expected == '' or expected == '*' then return true end
  local current = cart_etag(key)
  for tag in string.gmatch(expected, '[^,]+') do
    if tag == current then return true end
  end
  return false
end
local function done(key, ttl)
  if redis.call('EXISTS', key) == 1 then redis.call('EXPIRE', key, ttl) end
  return {'ok', redis.call('HGETALL', key)}
end
`;

/** KEYS: cart. ARGV: sku, quantity, max per line, ttl s. Adds to a line unless it would pass the max. */
export const CART_ADD = script(`${CART_ETAG}
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local add = tonumber(ARGV[2])
if cur + add > tonumber(ARGV[3]) then return {'limit', tostring(cur)} end
redis.call('HINCRBY', KEYS[1], ARGV[1], add)
return done(KEYS[1], ARGV[4])
`);

/** KEYS: cart. ARGV: sku, quantity (0 removes), ttl s, If-Match tags or ''. Sets a line's quantity. */
export const CART_SET = script(`${CART_ETAG}
if not precondition(KEYS[1], ARGV[4]) then return {'precondition'} end
if tonumber(ARGV[2]) == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return done(KEYS[1], ARGV[3])
`);

/** KEYS: cart. ARGV: sku, quantity or '' (whole line), ttl s, If-Match tags or ''. Never goes below zero. */
export const CART_REMOVE = script(`${CART_ETAG}
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if cur == 0 then return {'absent'} end
if not precondition(KEYS[1], ARGV[4]) then return {'precondition'} end
if ARGV[2] == '' or cur <= tonumber(ARGV[2]) then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HINCRBY', KEYS[1], ARGV[1], -tonumber(ARGV[2]))
end
return done(KEYS[1], ARGV[3])
`);

/** KEYS: user. ARGV: field, value, ... Creates the Hash only if the key does not exist; returns 1 or 0. */
export const HASH_CREATE = script(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`);

/** KEYS: hash. ARGV: n fields to set, field, value, ..., then fields to delete. Updates an existing Hash only. */
export const HASH_UPDATE = script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[1])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 2, 1 + 2 * n)) end
for i = 2 + 2 * n, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
return 1
`);

/** The cart version tag computed the same way as in Lua, from a Hash's fields. */
export function cartEtag(lines: Record<string, string>): string {
  const body = Object.entries(lines)
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join('\n');
  return createHash('sha1').update(body).digest('hex');
}
