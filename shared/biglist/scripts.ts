// The biglist's Lua, beside its store. `biglist`, `{biglist}:...` keys share one hash slot (the published
// list, its state, the loader's claim, the clean-up set, idempotency records); segments live in slots of
// their own and are only ever renamed into place by BIGLIST_COMMIT, which touches one segment's slot.
import { IDEMPOTENCY_TTL_SECONDS } from '../idempotency.js';
import { bad, oneOf, type Reply, script, tagged, text } from '../redis/scripts.js';

/**
 * What claiming the loader found: free (maybe after failing a stale load), busy, or changed meanwhile;
 * or, with an Idempotency-Key, the load this key started before ('replayed') or another request's key.
 */
export type ClaimReply =
  | { status: 'ok'; replaced: string }
  | { status: 'busy'; active: string }
  | { status: 'retry' }
  | { status: 'replayed'; loadId: string }
  | { status: 'reused' };

const claimReply: Reply<ClaimReply> = (raw) => {
  const [status, [other]] = tagged(raw);
  if (status === 'retry' || status === 'reused') return { status };
  if (status === 'ok') return { status, replaced: text(other) };
  if (status === 'busy' && typeof other === 'string' && other !== '') return { status, active: other };
  if (status === 'replayed' && typeof other === 'string' && other !== '') return { status, loadId: other };
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
 * KEYS: active, new load state, state of the load the caller saw active (or the new one), cleanup set[,
 * idempotency record]. ARGV: load id, now ms, stall ms, id the caller saw active or '', reason for a
 * stale load, fingerprint or '', then field, value pairs. Claims the loader for a new load unless another
 * load is genuinely in progress; a stale one is failed and queued for clean-up in the same step. The
 * Idempotency-Key is recorded with the claim ("fingerprint loadId"), so a retry finds the load it started.
 */
export const BIGLIST_CLAIM = script(
  `${BIGLIST_LUA}
local active_key, load, seen_load, cleanup, record = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local load_id, now, stall_ms, seen, reason, fingerprint = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]
if record then
  local was = redis.call('GET', record)
  if was then
    local fp, id = string.match(was, '^(%S+) (%S+)$')
    if fp ~= fingerprint then return {'reused'} end
    return {'replayed', id}
  end
end
local active = redis.call('GET', active_key) or ''
if active ~= seen then return {'retry', active} end
if active ~= '' then
  local st = redis.call('HMGET', seen_load, 'state', 'createdAt', 'startedAt', 'progressAt')
  if st[1] == 'queued' or st[1] == 'running' then
    if not stale(st, tonumber(now), stall_ms) then return {'busy', active} end
    redis.call('HSET', seen_load, 'state', 'failed', 'error', reason, 'finishedAt', now)
    redis.call('SADD', cleanup, active)
  end
end
redis.call('SET', active_key, load_id)
redis.call('HSET', load, unpack(ARGV, 7))
if record then redis.call('SET', record, fingerprint .. ' ' .. load_id, 'EX', ${IDEMPOTENCY_TTL_SECONDS}) end
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
 * KEYS: load state, active, cleanup set[, idempotency record to forget]. ARGV: load id, final state
 * (failed or cancelled), reason, now ms, stall ms or '' (then only a stale load is ended). Ends a load in
 * progress, frees the loader and queues its data for clean-up, in one step; returns the state the load is
 * in afterwards ('' when unknown). A load ended before any of its work was queued forgets the key that
 * started it, so that a retry really starts one.
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
if KEYS[4] and string.match(redis.call('GET', KEYS[4]) or '', ' (%S+)$') == ARGV[1] then
  redis.call('DEL', KEYS[4])
end
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
