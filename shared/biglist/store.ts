import { randomBytes } from 'node:crypto';
import { ensureError } from '../errors.js';
import type { Redis } from '../redis/client.js';
import { keys } from '../redis/keys.js';
import {
  BIGLIST_CLAIM,
  BIGLIST_COMMIT,
  BIGLIST_DONE,
  BIGLIST_FAIL,
  BIGLIST_READ_NEWEST,
  BIGLIST_START,
  runScript,
} from '../redis/scripts.js';
import type { CurrentLoad } from './schema.js';

/** Values per LPUSH (variadic); with PUSH_IN_FLIGHT the best pair in `npm run bench:biglist`. */
export const PUSH_BATCH = 10_000;
/** LPUSH commands in flight per segment write: a bounded pipeline, never one giant one. */
export const PUSH_IN_FLIGHT = 4;
// A crashed delivery's half-written copy disappears by itself after this long.
const ATTEMPT_TTL_MS = 15 * 60_000;
// A load still queued after this long, with nothing started, no longer blocks a new one.
const STALE_QUEUED_MS = 2 * 60_000;
// Replaced loads keep their status (not their data) this long.
const OLD_STATE_TTL_S = 7 * 86_400;

/** The key holding segment `index` of a load: its newest segment is staged beside `biglist`. */
export function segmentKey(loadId: string, index: number, segments: number): string {
  return index === segments - 1 ? keys.biglistStaged(loadId) : keys.biglistSegment(loadId, index);
}

/** Where reads of a published load find segment `index`. */
function publishedSegmentKey(load: CurrentLoad, index: number): string {
  return index === load.segments - 1 ? keys.biglist() : keys.biglistSegment(load.loadId, index);
}

/** Claims the loader for a new load; 'busy' with the running load's id when one is in progress. */
export async function claimLoad(
  redis: Redis,
  loadId: string,
  fields: Record<string, string>,
  now: number,
): Promise<{ status: 'ok' | 'busy'; other: string }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const seen = (await redis.get(keys.biglistActive())) ?? '';
    const reply = (await runScript(
      redis,
      BIGLIST_CLAIM,
      [keys.biglistActive(), keys.biglistLoad(loadId), keys.biglistLoad(seen || loadId)],
      [loadId, String(now), String(STALE_QUEUED_MS), seen, ...Object.entries(fields).flat()],
    )) as [string, string];
    if (reply[0] !== 'retry') return { status: reply[0] === 'ok' ? 'ok' : 'busy', other: reply[1] };
  }
  return { status: 'busy', other: '' };
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

/**
 * Writes values start..end (ascending, so the head holds the largest) into a private attempt key with
 * variadic LPUSHes, at most PUSH_IN_FLIGHT in flight; memory stays bounded whatever the segment size.
 */
export async function writeAttempt(
  redis: Redis,
  finalKey: string,
  start: number,
  end: number,
): Promise<string> {
  const attempt = keys.biglistAttempt(finalKey, randomBytes(8).toString('hex'));
  const batch = (from: number) => {
    const to = Math.min(end, from + PUSH_BATCH - 1);
    const values = new Array<string>(to - from + 1);
    for (let i = 0; i < values.length; i++) values[i] = String(from + i);
    return values;
  };
  // The first batch and the expiry go in one MULTI: a copy can never exist without its TTL, even if
  // the connection dies between the two.
  await redis.multi().lPush(attempt, batch(start)).pExpire(attempt, ATTEMPT_TTL_MS).exec();
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  for (let from = start + PUSH_BATCH; from <= end && failure === undefined; from += PUSH_BATCH) {
    // Tracked pushes never reject: the first error is kept and thrown once, so none goes unhandled.
    const tracked: Promise<void> = redis.lPush(attempt, batch(from)).then(
      () => void inFlight.delete(tracked),
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

/** Moves a finished attempt into place; 'duplicate' when another delivery committed first. */
export async function commitAttempt(
  redis: Redis,
  attempt: string,
  finalKey: string,
): Promise<'committed' | 'duplicate'> {
  return (await runScript(redis, BIGLIST_COMMIT, [attempt, finalKey], [])) as 'committed' | 'duplicate';
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
    ],
    [String(index), String(size), load.loadId, String(now), JSON.stringify(load)],
  )) as [string, string];
  return { status: reply[0], previous: reply[1] };
}

/** Marks a load failed and frees the loader for the next one. */
export async function failLoad(redis: Redis, loadId: string, reason: string, now: number): Promise<void> {
  await runScript(
    redis,
    BIGLIST_FAIL,
    [keys.biglistLoad(loadId), keys.biglistActive()],
    [loadId, reason, String(now)],
  );
}

/** Removes a replaced or failed load's data (its newest segment was overwritten or never published). */
export async function removeLoadData(
  redis: Redis,
  loadId: string,
  segments: number,
  keepNewest: boolean,
): Promise<void> {
  const doomed = Array.from({ length: segments - 1 }, (_, i) => keys.biglistSegment(loadId, i));
  if (!keepNewest) doomed.push(keys.biglistStaged(loadId));
  // One UNLINK per key: on a cluster the segments live in different hash slots.
  for (let i = 0; i < doomed.length; i += 1000) {
    await Promise.all(doomed.slice(i, i + 1000).map((k) => redis.unlink(k)));
  }
  await Promise.all([
    redis.unlink(keys.biglistDone(loadId)),
    redis.expire(keys.biglistLoad(loadId), OLD_STATE_TTL_S),
  ]);
}

/** Removes one segment key (an orphan committed after its load failed or finished). */
export async function removeSegment(redis: Redis, key: string): Promise<void> {
  await redis.unlink(key);
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
