// The biglist's Lua, beside its store. `biglist`, `{biglist}:...` keys share one hash slot (the published
// list, its state, the loader's claim, the clean-up set, idempotency records); segments live in slots of
// their own and are only ever renamed into place by BIGLIST_COMMIT, which touches one segment's slot.
import { IDEMPOTENCY_TTL_SECONDS } from '../idempotency.js';
import { bad, oneOf, type Reply, script, tagged, text } from '../redis/scripts.js';
import { LoadState } from './schema.js';

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

/** A load's state, or 'unknown' for a load that has no record (never started, or expired long ago). */
export type LoadStateReply = LoadState | 'unknown';

const loadState: Reply<LoadStateReply> = oneOf(...LoadState.options, 'unknown');

/**
 * What recording a finished segment did: more segments to go, the load published (with the JSON of the
 * load it replaced, '' for none), or nothing because the load had already ended (or is unknown).
 */
export type DoneReply =
  | { status: 'pending' }
  | { status: 'published'; previous: string }
  | { status: 'ended'; state: LoadStateReply };

const doneReply: Reply<DoneReply> = (raw) => {
  const [status, [detail]] = tagged(raw);
  if (status === 'pending') return { status };
  if (status === 'published') return { status, previous: text(detail ?? null) };
  if (status === 'ended') return { status, state: loadState(detail) };
  throw bad('a segment outcome', raw);
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

/** KEYS: load state. ARGV: now ms. Marks a queued load running; returns its state ('unknown' without a record). */
export const BIGLIST_START = script(
  `
local load = KEYS[1]
local now = ARGV[1]
local state = redis.call('HGET', load, 'state')
if state == 'queued' then
  redis.call('HSET', load, 'state', 'running', 'startedAt', now)
  return 'running'
end
return state or 'unknown'
`,
  loadState,
);

/**
 * KEYS: attempt, segment. ARGV: the segment's length. Moves a finished attempt into place unless another
 * delivery got there first; an attempt of the wrong length (cut short, or partly removed) is discarded.
 */
export const BIGLIST_COMMIT = script(
  `
local attempt, segment = KEYS[1], KEYS[2]
local length = tonumber(ARGV[1])
if redis.call('EXISTS', segment) == 1 then
  redis.call('DEL', attempt)
  return 'duplicate'
end
if redis.call('LLEN', attempt) ~= length then
  redis.call('DEL', attempt)
  return 'incomplete'
end
redis.call('RENAME', attempt, segment)
redis.call('PERSIST', segment)
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
local load, done, staged, biglist, current, active, cleanup = unpack(KEYS, 1, 7)
local index, size, load_id, now, current_json, path = unpack(ARGV, 1, 6)
local state = redis.call('HGET', load, 'state')
if state ~= 'running' and state ~= 'queued' then return {'ended', state or 'unknown'} end
if redis.call('SADD', done, index) == 1 then
  redis.call('HINCRBY', load, 'loaded', size)
  redis.call('HINCRBY', load, path .. 'Segments', 1)
  redis.call('HSET', load, 'progressAt', now)
end
if redis.call('SCARD', done) < tonumber(redis.call('HGET', load, 'segments')) then
  return {'pending'}
end
if redis.call('EXISTS', staged) == 0 then return redis.error_reply('ERR staged segment missing') end
local previous = redis.call('GET', current) or ''
redis.call('RENAME', staged, biglist)
redis.call('SET', current, current_json)
redis.call('HSET', load, 'state', 'completed', 'finishedAt', now)
redis.call('DEL', done)
if redis.call('GET', active) == load_id then redis.call('DEL', active) end
if previous ~= '' then redis.call('SADD', cleanup, cjson.decode(previous).loadId) end
return {'published', previous}
`,
  doneReply,
);

/**
 * KEYS: load state, active, cleanup set[, idempotency record to forget]. ARGV: load id, final state
 * (failed or cancelled), reason, now ms, stall ms or '' (then only a stale load is ended). Ends a load in
 * progress, frees the loader and queues its data for clean-up, in one step; returns the state the load is
 * in afterwards ('unknown' without a record). A load ended before any of its work was queued forgets the
 * key that started it, so that a retry really starts one.
 */
export const BIGLIST_END = script(
  `${BIGLIST_LUA}
local load, active, cleanup, record = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local load_id, final_state, reason, now, stall_ms = unpack(ARGV, 1, 5)
local st = redis.call('HMGET', load, 'state', 'createdAt', 'startedAt', 'progressAt')
if not st[1] then return 'unknown' end
if st[1] ~= 'queued' and st[1] ~= 'running' then return st[1] end
if stall_ms ~= '' and not stale(st, tonumber(now), tonumber(stall_ms)) then return st[1] end
redis.call('HSET', load, 'state', final_state, 'error', reason, 'finishedAt', now)
if redis.call('GET', active) == load_id then redis.call('DEL', active) end
redis.call('SADD', cleanup, load_id)
if record and string.match(redis.call('GET', record) or '', ' (%S+)$') == load_id then
  redis.call('DEL', record)
end
return final_state
`,
  loadState,
);

/**
 * KEYS: current, biglist. ARGV: load id. The serialized newest segment of the published load, or nil
 * when the published load is another one (run on a client that maps blob strings to Buffers).
 */
export const BIGLIST_DUMP_NEWEST = script(
  `
local current_key, biglist = KEYS[1], KEYS[2]
local load_id = ARGV[1]
local current = redis.call('GET', current_key)
if not current then return false end
local ok, load = pcall(cjson.decode, current)
if not ok or load.loadId ~= load_id then return false end
return redis.call('DUMP', biglist)
`,
  (raw): Buffer | undefined => (Buffer.isBuffer(raw) ? raw : undefined),
);

/** KEYS: current, biglist. ARGV: start, stop. Reads the published load and a range of its newest segment together. */
export const BIGLIST_READ_NEWEST = script(
  `
local current_key, biglist = KEYS[1], KEYS[2]
local start, stop = ARGV[1], ARGV[2]
local current = redis.call('GET', current_key)
if not current or tonumber(start) < 0 then return {current or '', {}} end
return {current, redis.call('LRANGE', biglist, start, stop)}
`,
  newestReply,
);
