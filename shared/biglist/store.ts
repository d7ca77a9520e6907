import { randomBytes } from 'node:crypto';
import { ensureError } from '../errors.js';
import type { Redis } from '../redis/client.js';
import { keys } from '../redis/keys.js';
import {
  BIGLIST_CLAIM,
  BIGLIST_COMMIT,
  BIGLIST_DONE,
  BIGLIST_END,
  BIGLIST_READ_NEWEST,
  BIGLIST_START,
  runScript,
} from '../redis/scripts.js';
import type { CurrentLoad } from './schema.js';

/** Values per LPUSH (variadic); with PUSH_IN_FLIGHT the best pair in `npm run bench:biglist`. */
export const PUSH_BATCH = 10_000;
/** LPUSH commands in flight per segment write: a bounded pipeline, never one giant one. */
export const PUSH_IN_FLIGHT = 4;
// Half-written copies are removed when their segment is next handled; this TTL is the backstop for
// copies whose message never comes back.
const ATTEMPT_TTL_MS = 15 * 60_000;
// Ended loads keep their status (not their data) this long.
const OLD_STATE_TTL_S = 7 * 86_400;
// Loads cleaned up per call: bounds the work one request does for others.
const CLEANUPS_PER_CALL = 4;

/** The key holding segment `index` of a load: its newest segment is staged beside `biglist`. */
export function segmentKey(loadId: string, index: number, segments: number): string {
  return index === segments - 1 ? keys.biglistStaged(loadId) : keys.biglistSegment(loadId, index);
}

/** Where reads of a published load find segment `index`. */
function publishedSegmentKey(load: CurrentLoad, index: number): string {
  return index === load.segments - 1 ? keys.biglist() : keys.biglistSegment(load.loadId, index);
}

/**
 * Claims the loader for a new load; 'busy' with the running load's id when one is in progress. A load
 * that made no progress for `stallMs` does not block: it is failed and queued for clean-up.
 */
export async function claimLoad(
  redis: Redis,
  loadId: string,
  fields: Record<string, string>,
  now: number,
  stallMs: number,
): Promise<{ status: 'ok' | 'busy'; other: string }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const seen = (await redis.get(keys.biglistActive())) ?? '';
    const reply = (await runScript(
      redis,
      BIGLIST_CLAIM,
      [
        keys.biglistActive(),
        keys.biglistLoad(loadId),
        keys.biglistLoad(seen || loadId),
        keys.biglistCleanup(),
      ],
      [loadId, String(now), String(stallMs), seen, stalledReason(stallMs), ...Object.entries(fields).flat()],
    )) as [string, string];
    if (reply[0] !== 'retry') return { status: reply[0] === 'ok' ? 'ok' : 'busy', other: reply[1] };
  }
  return { status: 'busy', other: '' };
}

/** The error recorded on a load that stalled. */
export function stalledReason(stallMs: number): string {
  return `no progress for ${Math.round(stallMs / 1000)} s`;
}

/** A load's state hash and, while running, how many segments are done. */
export async function readLoad(
  redis: Redis,
  loadId: string,
): Promise<{ state: Record<string, string>; done: number }> {
  const [state, done] = await Promise.all([
    redis.hGetAll(keys.biglistLoad(loadId)),
    redis.sCard(keys.biglistDone(loadId)),
  ]);
  return { state, done };
}

/** Marks the load running (first segment); returns its state. */
export async function startSegment(redis: Redis, loadId: string, now: number): Promise<string> {
  return String(await runScript(redis, BIGLIST_START, [keys.biglistLoad(loadId)], [String(now)]));
}

/** True when a segment was already committed (by an earlier delivery of the same message). */
export async function isCommitted(redis: Redis, key: string): Promise<boolean> {
  return (await redis.exists(key)) === 1;
}

/** A token naming one delivery: the message id and dequeue count, or a random one without an id. */
export function attemptToken(messageId: string | undefined, dequeueCount: number): string {
  if (messageId !== undefined && /^[A-Za-z0-9_-]{1,50}$/.test(messageId))
    return `${messageId}-${dequeueCount}`;
  return randomBytes(8).toString('hex');
}

/** Removes what earlier deliveries of the same message left half-written (they crashed or timed out). */
export async function removeEarlierAttempts(
  redis: Redis,
  finalKey: string,
  messageId: string | undefined,
  dequeueCount: number,
): Promise<void> {
  if (messageId === undefined || dequeueCount <= 1) return;
  const doomed = Array.from({ length: dequeueCount - 1 }, (_, i) =>
    keys.biglistAttempt(finalKey, attemptToken(messageId, i + 1)),
  );
  // One UNLINK per key: attempt keys share their segment's slot, but stay simple and cluster-proof.
  await Promise.all(doomed.map((k) => redis.unlink(k)));
}

/**
 * Writes values start..end (ascending, so the head holds the largest) into the delivery's private attempt
 * key with variadic LPUSHes, at most PUSH_IN_FLIGHT in flight; memory stays bounded whatever the segment
 * size. Only the first push may create the key (with its TTL, in one MULTI); the others are LPUSHX, so a
 * copy removed meanwhile (by a later delivery) is never recreated without a TTL.
 */
export async function writeAttempt(
  redis: Redis,
  loadId: string,
  finalKey: string,
  token: string,
  start: number,
  end: number,
): Promise<string> {
  const attempt = keys.biglistAttempt(finalKey, token);
  // Listed before it exists, so that the clean-up of an ended load finds every copy its deliveries made.
  await redis.sAdd(keys.biglistAttempts(loadId), attempt);
  const batch = (from: number) => {
    const to = Math.min(end, from + PUSH_BATCH - 1);
    const values = new Array<string>(to - from + 1);
    for (let i = 0; i < values.length; i++) values[i] = String(from + i);
    return values;
  };
  await redis.multi().lPush(attempt, batch(start)).pExpire(attempt, ATTEMPT_TTL_MS).exec();
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  for (let from = start + PUSH_BATCH; from <= end && failure === undefined; from += PUSH_BATCH) {
    // Tracked pushes never reject: the first error is kept and thrown once, so none goes unhandled.
    const tracked: Promise<void> = redis.lPushX(attempt, batch(from)).then(
      (length) => {
        if (length === 0) failure ??= new Error(`attempt ${attempt} was removed while being written`);
        inFlight.delete(tracked);
      },
      (err: unknown) => {
        failure ??= err;
        inFlight.delete(tracked);
      },
    );
    inFlight.add(tracked);
    if (inFlight.size >= PUSH_IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw ensureError(failure);
  return attempt;
}

/** Moves a finished attempt of `length` values into place; 'duplicate' when another delivery committed first. */
export async function commitAttempt(
  redis: Redis,
  attempt: string,
  finalKey: string,
  length: number,
): Promise<'committed' | 'duplicate' | 'incomplete'> {
  return (await runScript(redis, BIGLIST_COMMIT, [attempt, finalKey], [String(length)])) as
    'committed' | 'duplicate' | 'incomplete';
}

/** Records a finished segment; the call that completes the load publishes it and gets the previous load. */
export async function markSegmentDone(
  redis: Redis,
  load: CurrentLoad,
  index: number,
  size: number,
  now: number,
): Promise<{ status: string; previous: string }> {
  const reply = (await runScript(
    redis,
    BIGLIST_DONE,
    [
      keys.biglistLoad(load.loadId),
      keys.biglistDone(load.loadId),
      keys.biglistStaged(load.loadId),
      keys.biglist(),
      keys.biglistCurrent(),
      keys.biglistActive(),
      keys.biglistCleanup(),
    ],
    [String(index), String(size), load.loadId, String(now), JSON.stringify(load)],
  )) as [string, string];
  return { status: reply[0], previous: reply[1] };
}

/**
 * Ends a load in progress as `failed` or `cancelled`, frees the loader and queues its data for clean-up,
 * atomically; with `onlyIfStallMs`, only if it made no progress for that long. Returns the load's state
 * afterwards ('' when unknown).
 */
export async function endLoad(
  redis: Redis,
  loadId: string,
  end: { state: 'failed' | 'cancelled'; reason: string; now: number; onlyIfStallMs?: number },
): Promise<string> {
  return String(
    await runScript(
      redis,
      BIGLIST_END,
      [keys.biglistLoad(loadId), keys.biglistActive(), keys.biglistCleanup()],
      [
        loadId,
        end.state,
        end.reason,
        String(end.now),
        end.onlyIfStallMs === undefined ? '' : String(end.onlyIfStallMs),
      ],
    ),
  );
}

/**
 * Removes the data of loads queued for clean-up (failed, cancelled or replaced), a few per call; a load
 * leaves the queue only once its keys are gone, so an interrupted clean-up is picked up by the next call.
 * The published list is never touched: its newest segment is `biglist` itself.
 */
export async function cleanUp(redis: Redis): Promise<number> {
  const [ids, current] = await Promise.all([
    redis.sRandMemberCount(keys.biglistCleanup(), CLEANUPS_PER_CALL),
    redis.get(keys.biglistCurrent()),
  ]);
  for (const loadId of ids) {
    if (current?.includes(`"loadId":"${loadId}"`)) {
      // Never the published list, whatever put its id here.
      await redis.sRem(keys.biglistCleanup(), loadId);
      continue;
    }
    const segments = Number((await redis.hGet(keys.biglistLoad(loadId), 'segments')) ?? 0);
    await removeAttempts(redis, loadId);
    const doomed = [keys.biglistStaged(loadId), keys.biglistDone(loadId)];
    for (let i = 0; i < segments - 1; i++) doomed.push(keys.biglistSegment(loadId, i));
    // One UNLINK per key: on a cluster the segments live in different hash slots.
    for (let i = 0; i < doomed.length; i += 1000) {
      await Promise.all(doomed.slice(i, i + 1000).map((k) => redis.unlink(k)));
    }
    await redis.expire(keys.biglistLoad(loadId), OLD_STATE_TTL_S);
    await redis.sRem(keys.biglistCleanup(), loadId);
  }
  return ids.length;
}

/** Removes every attempt copy a load's deliveries made (all garbage once the load is published or ended). */
export async function removeAttempts(redis: Redis, loadId: string): Promise<void> {
  const attempts = await redis.sMembers(keys.biglistAttempts(loadId));
  await Promise.all(attempts.map((k) => redis.unlink(k)));
  await redis.unlink(keys.biglistAttempts(loadId));
}

/** Removes one segment key and its delivery's attempt (left by a delivery of a load that ended meanwhile). */
export async function removeSegment(redis: Redis, key: string, attempt?: string): Promise<void> {
  await Promise.all([redis.unlink(key), ...(attempt ? [redis.unlink(attempt)] : [])]);
}

/** The published load, if any. */
export async function readCurrent(redis: Redis): Promise<string | null> {
  return redis.get(keys.biglistCurrent());
}

/** One range of one segment to read, in head-first (descending) index space. */
export interface SegmentRange {
  index: number;
  start: number;
  stop: number;
}

/**
 * Reads ranges of the published load in one round trip: the newest segment together with the
 * current-load record (one script, one hash slot), the older ones in parallel. Returns undefined when
 * the load was replaced meanwhile.
 */
export async function readRanges(
  redis: Redis,
  load: CurrentLoad,
  ranges: SegmentRange[],
): Promise<string[][] | undefined> {
  const newest = ranges.find((r) => r.index === load.segments - 1);
  const [[current, newestValues], ...older] = await Promise.all([
    runScript(
      redis,
      BIGLIST_READ_NEWEST,
      [keys.biglistCurrent(), keys.biglist()],
      newest ? [String(newest.start), String(newest.stop)] : ['-1', '-1'],
    ) as Promise<[string, string[]]>,
    ...ranges
      .filter((r) => r !== newest)
      .map((r) => redis.lRange(publishedSegmentKey(load, r.index), r.start, r.stop)),
  ]);
  if (!current.includes(`"loadId":"${load.loadId}"`)) return undefined;
  let o = 0;
  const out = ranges.map((r) => (r === newest ? newestValues : (older[o++] ?? [])));
  return out.every((values, i) => values.length === (ranges[i]?.stop ?? 0) - (ranges[i]?.start ?? 0) + 1)
    ? out
    : undefined;
}
