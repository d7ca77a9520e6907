import { createHash } from 'node:crypto';
import { ErrorReply } from 'redis';

/** Reads a script's raw reply into the type it promises; throws ScriptReplyError when it does not fit. */
export type Reply<T> = (raw: unknown) => T;

/** A Lua script with its SHA1 and the parser of its reply, run by EVALSHA with an EVAL fallback. */
export interface Script<T> {
  source: string;
  sha1: string;
  reply: Reply<T>;
}

/** A script answered something it never answers: a bug between the Lua and its caller, not a user error. */
export class ScriptReplyError extends Error {
  override name = 'ScriptReplyError';
}

function script<T>(source: string, reply: Reply<T>): Script<T> {
  return { source, sha1: createHash('sha1').update(source).digest('hex'), reply };
}

/** What running a script needs of a client: any node-redis client or cluster, whatever its type mapping. */
export interface ScriptClient {
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(source: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** Runs a script on the node owning its keys (EVAL when the server does not know it yet); returns its parsed reply. */
export async function runScript<T>(
  redis: ScriptClient,
  s: Script<T>,
  keys: string[],
  args: string[],
): Promise<T> {
  let raw: unknown;
  try {
    raw = await redis.evalSha(s.sha1, { keys, arguments: args });
  } catch (err) {
    if (!(err instanceof ErrorReply && err.message.startsWith('NOSCRIPT'))) throw err;
    raw = await redis.eval(s.source, { keys, arguments: args });
  }
  return s.reply(raw);
}

const bad = (what: string, raw: unknown) =>
  new ScriptReplyError(`expected ${what}, the script answered ${JSON.stringify(raw)}`);

/** An integer reply. */
const integer: Reply<number> = (raw) => {
  if (typeof raw !== 'number') throw bad('an integer', raw);
  return raw;
};

/** A string reply ('' for a nil). */
const text: Reply<string> = (raw) => {
  if (raw === null) return '';
  if (typeof raw !== 'string') throw bad('a string', raw);
  return raw;
};

/** One of the given strings. */
function oneOf<S extends string>(...values: S[]): Reply<S> {
  return (raw) => {
    if (typeof raw !== 'string' || !(values as string[]).includes(raw)) throw bad(values.join('|'), raw);
    return raw as S;
  };
}

/** An array reply whose first element is a string tag. */
function tagged(raw: unknown): [string, unknown[]] {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string') throw bad('a tagged array', raw);
  return [raw[0], raw.slice(1)];
}

/** A hash as HGETALL answers it inside a script: a flat list, or (RESP3 paths) a map. */
function fields(raw: unknown): Record<string, string> {
  if (Array.isArray(raw)) {
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < raw.length; i += 2) out[String(raw[i])] = String(raw[i + 1]);
    return out;
  }
  if (raw !== null && typeof raw === 'object') {
    return Object.fromEntries(Object.entries(raw as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  }
  throw bad('a hash', raw);
}

/** The outcome of an atomic cart script: the cart's lines after it ran, or why it did nothing. */
export type CartWrite =
  | { status: 'ok'; lines: Record<string, string> }
  | { status: 'limit'; current: number }
  | { status: 'precondition' }
  | { status: 'absent' }
  | { status: 'gone' };

const cartWrite: Reply<CartWrite> = (raw) => {
  const [status, [payload]] = tagged(raw);
  switch (status) {
    case 'ok':
      return { status, lines: fields(payload) };
    case 'limit':
      return { status, current: Number(payload) };
    case 'precondition':
    case 'absent':
    case 'gone':
      return { status };
    default:
      throw bad('a cart outcome', raw);
  }
};

// Shared Lua for cart scripts. Each touches only keys in the cart's hash slot: cart:{userId} and
// {cart:{userId}}:owner. The owner record says which incarnation (generation) of the user the cart belongs
// to, so a write for a user deleted meanwhile is refused here, atomically, on a cluster too.
const CART_LUA = `
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
local function done(key, ttl)
  if redis.call('EXISTS', key) == 1 then redis.call('EXPIRE', key, ttl) end
  return {'ok', redis.call('HGETALL', key)}
end
`;

/** KEYS: cart, owner. ARGV: sku, quantity, max per line, ttl s, generation. Adds to a line unless past the max. */
export const CART_ADD = script(
  `${CART_LUA}
if not owns(KEYS[2], KEYS[1], tonumber(ARGV[5]), false) then return {'gone'} end
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local add = tonumber(ARGV[2])
if cur + add > tonumber(ARGV[3]) then return {'limit', tostring(cur)} end
redis.call('HINCRBY', KEYS[1], ARGV[1], add)
return done(KEYS[1], ARGV[4])
`,
  cartWrite,
);

/** KEYS: cart, owner. ARGV: sku, quantity (0 removes), ttl s, expected lines hash or '', generation. */
export const CART_SET = script(
  `${CART_LUA}
if not owns(KEYS[2], KEYS[1], tonumber(ARGV[5]), false) then return {'gone'} end
if ARGV[4] ~= '' and lines_hash(KEYS[1]) ~= ARGV[4] then return {'precondition'} end
if tonumber(ARGV[2]) == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return done(KEYS[1], ARGV[3])
`,
  cartWrite,
);

/** KEYS: cart, owner. ARGV: sku, quantity or '' (whole line), ttl s, expected lines hash or '', generation. */
export const CART_REMOVE = script(
  `${CART_LUA}
if not owns(KEYS[2], KEYS[1], tonumber(ARGV[5]), false) then return {'gone'} end
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if cur == 0 then return {'absent'} end
if ARGV[4] ~= '' and lines_hash(KEYS[1]) ~= ARGV[4] then return {'precondition'} end
if ARGV[2] == '' or cur <= tonumber(ARGV[2]) then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HINCRBY', KEYS[1], ARGV[1], -tonumber(ARGV[2]))
end
return done(KEYS[1], ARGV[3])
`,
  cartWrite,
);

/** KEYS: cart, owner. ARGV: generation. Empties the cart of a live user; 'gone' otherwise. */
export const CART_CLEAR = script(
  `${CART_LUA}
if not owns(KEYS[2], KEYS[1], tonumber(ARGV[1]), false) then return {'gone'} end
redis.call('DEL', KEYS[1])
return {'ok', {}}
`,
  cartWrite,
);

/** KEYS: owner. Issues the next generation of a user id (never reused while the record lives). */
export const CART_RESERVE = script(
  `
local g = redis.call('HINCRBY', KEYS[1], 'next', 1)
redis.call('PERSIST', KEYS[1])
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
local st = redis.call('HMGET', KEYS[1], 'live', 'closed')
local live, closed = tonumber(st[1] or '0'), tonumber(st[2] or '0')
local g = tonumber(ARGV[1])
if g > closed then
  redis.call('HSET', KEYS[1], 'closed', g)
  closed = g
end
if live <= g then redis.call('DEL', KEYS[2]) end
if live <= closed then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
`,
  integer,
);

/** KEYS: user, generation. ARGV: generation, then field, value pairs. Creates the user unless it exists. */
export const USER_CREATE = script(
  `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SET', KEYS[2], ARGV[1])
return 1
`,
  integer,
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

/** The lines hash computed the same way as in Lua, from a cart Hash's fields. */
export function linesHash(lines: Record<string, string>): string {
  const body = Object.entries(lines)
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join('\n');
  return createHash('sha1').update(body).digest('hex');
}

/** What claiming the loader found: free (maybe after failing a stale load), busy, or changed meanwhile. */
export type ClaimReply =
  { status: 'ok'; replaced: string } | { status: 'busy'; active: string } | { status: 'retry' };

const claimReply: Reply<ClaimReply> = (raw) => {
  const [status, [other]] = tagged(raw);
  if (status === 'retry') return { status };
  if (status === 'ok') return { status, replaced: text(other) };
  if (status === 'busy' && typeof other === 'string' && other !== '') return { status, active: other };
  throw bad('a claim outcome', raw);
};

/** What recording a finished segment did: 'pending', 'published' (with the replaced load), or the load's end state. */
export interface DoneReply {
  status: string;
  previous: string;
}

const doneReply: Reply<DoneReply> = (raw) => {
  const [status, [previous]] = tagged(raw);
  return { status, previous: text(previous ?? null) };
};

/** The published load record and a range of the newest segment, read together. */
export interface NewestReply {
  current: string;
  values: string[];
}

const newestReply: Reply<NewestReply> = (raw) => {
  if (!Array.isArray(raw) || !Array.isArray(raw[1])) throw bad('[current, values]', raw);
  return { current: text(raw[0] ?? null), values: (raw[1] as unknown[]).map(String) };
};

// A load in progress is stale once nothing happened for the stall time: no segment finished, none started.
const BIGLIST_LUA = `
local function stale(st, now, stall_ms)
  local last = math.max(tonumber(st[2] or '0'), tonumber(st[3] or '0'), tonumber(st[4] or '0'))
  return now - last > stall_ms
end
`;

/**
 * KEYS: active, new load state, state of the load the caller saw active (or the new one), cleanup set.
 * ARGV: load id, now ms, stall ms, id the caller saw active or '', reason for a stale load, then field,
 * value pairs. Claims the loader for a new load unless another load is genuinely in progress; a stale
 * one is failed and queued for clean-up in the same step.
 */
export const BIGLIST_CLAIM = script(
  `${BIGLIST_LUA}
local active = redis.call('GET', KEYS[1]) or ''
if active ~= ARGV[4] then return {'retry', active} end
if active ~= '' then
  local st = redis.call('HMGET', KEYS[3], 'state', 'createdAt', 'startedAt', 'progressAt')
  if st[1] == 'queued' or st[1] == 'running' then
    if not stale(st, tonumber(ARGV[2]), tonumber(ARGV[3])) then return {'busy', active} end
    redis.call('HSET', KEYS[3], 'state', 'failed', 'error', ARGV[5], 'finishedAt', ARGV[2])
    redis.call('SADD', KEYS[4], active)
  end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], unpack(ARGV, 6))
return {'ok', active}
`,
  claimReply,
);

/** KEYS: load state. ARGV: now ms. Marks a queued load running; returns its state. */
export const BIGLIST_START = script(
  `
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'queued' then
  redis.call('HSET', KEYS[1], 'state', 'running', 'startedAt', ARGV[1])
  return 'running'
end
return state or ''
`,
  text,
);

/**
 * KEYS: attempt, segment. ARGV: the segment's length. Moves a finished attempt into place unless another
 * delivery got there first; an attempt of the wrong length (cut short, or partly removed) is discarded.
 */
export const BIGLIST_COMMIT = script(
  `
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('DEL', KEYS[1])
  return 'duplicate'
end
if redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return 'incomplete'
end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('PERSIST', KEYS[2])
return 'committed'
`,
  oneOf('committed', 'duplicate', 'incomplete'),
);

/**
 * KEYS: load state, done set, staged newest segment, biglist, current, active, cleanup set.
 * ARGV: segment index, segment size, load id, now ms, current JSON, write path (restore or lpush).
 * Records a finished segment; the one that completes the load publishes it atomically and queues the
 * load it replaced for clean-up.
 */
export const BIGLIST_DONE = script(
  `
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'running' and state ~= 'queued' then return {state or 'unknown', ''} end
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'loaded', ARGV[2])
  redis.call('HINCRBY', KEYS[1], ARGV[6] .. 'Segments', 1)
  redis.call('HSET', KEYS[1], 'progressAt', ARGV[4])
end
if redis.call('SCARD', KEYS[2]) < tonumber(redis.call('HGET', KEYS[1], 'segments')) then
  return {'pending', ''}
end
if redis.call('EXISTS', KEYS[3]) == 0 then return redis.error_reply('ERR staged segment missing') end
local previous = redis.call('GET', KEYS[5]) or ''
redis.call('RENAME', KEYS[3], KEYS[4])
redis.call('SET', KEYS[5], ARGV[5])
redis.call('HSET', KEYS[1], 'state', 'completed', 'finishedAt', ARGV[4])
redis.call('DEL', KEYS[2])
if redis.call('GET', KEYS[6]) == ARGV[3] then redis.call('DEL', KEYS[6]) end
if previous ~= '' then redis.call('SADD', KEYS[7], cjson.decode(previous).loadId) end
return {'published', previous}
`,
  doneReply,
);

/**
 * KEYS: load state, active, cleanup set. ARGV: load id, final state (failed or cancelled), reason, now ms,
 * stall ms or '' (then only a stale load is ended). Ends a load in progress, frees the loader and queues
 * its data for clean-up, in one step; returns the state the load is in afterwards ('' when unknown).
 */
export const BIGLIST_END = script(
  `${BIGLIST_LUA}
local st = redis.call('HMGET', KEYS[1], 'state', 'createdAt', 'startedAt', 'progressAt')
if not st[1] then return '' end
if st[1] ~= 'queued' and st[1] ~= 'running' then return st[1] end
if ARGV[5] ~= '' and not stale(st, tonumber(ARGV[4]), tonumber(ARGV[5])) then return st[1] end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'error', ARGV[3], 'finishedAt', ARGV[4])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('SADD', KEYS[3], ARGV[1])
return ARGV[2]
`,
  text,
);

/**
 * KEYS: current, biglist. ARGV: load id. The serialized newest segment of the published load, or nil
 * when the published load is another one (run on a client that maps blob strings to Buffers).
 */
export const BIGLIST_DUMP_NEWEST = script(
  `
local current = redis.call('GET', KEYS[1])
if not current then return false end
local ok, load = pcall(cjson.decode, current)
if not ok or load.loadId ~= ARGV[1] then return false end
return redis.call('DUMP', KEYS[2])
`,
  (raw): Buffer | undefined => (Buffer.isBuffer(raw) ? raw : undefined),
);

/** KEYS: current, biglist. ARGV: start, stop. Reads the published load and a range of its newest segment together. */
export const BIGLIST_READ_NEWEST = script(
  `
local current = redis.call('GET', KEYS[1])
if not current or tonumber(ARGV[1]) < 0 then return {current or '', {}} end
return {current, redis.call('LRANGE', KEYS[2], ARGV[1], ARGV[2])}
`,
  newestReply,
);
