// A load's records: the loader's claim, its state and progress, publication, its end and the clean-up of
// its data, and the reads of the published list. Writing a segment is segmentStore.ts.
import { RESP_TYPES } from 'redis';

import type { Idempotency } from '../idempotency.js';
import type { Redis } from '../redis/connect.js';
import { keys } from '../redis/keys.js';
import { runScript } from '../redis/scripts.js';
import { parseCurrent, type SegmentRange } from './plan.js';
import { type CurrentLoad, LoadState, type WritePath } from './schema.js';
import {
  BIGLIST_CLAIM,
  BIGLIST_DONE,
  BIGLIST_DUMP_NEWEST,
  BIGLIST_END,
  BIGLIST_READ_NEWEST,
  BIGLIST_START,
  type ClaimReply,
  type DoneReply,
  type LoadStateReply,
} from './scripts.js';

// Ended loads keep their status (not their data) this long.
const OLD_STATE_TTL_S = 7 * 86_400;
// Loads cleaned up per call: bounds the work one request does for others.
const CLEANUPS_PER_CALL = 4;

/** A load's record as stored in `{biglist}:load:{id}`, typed. */
export interface LoadRecord {
  state: LoadState;
  count: number;
  segmentSize: number;
  segments: number;
  loaded: number;
  createdAt: number;
  startedAt: number | undefined;
  finishedAt: number | undefined;
  error: string | undefined;
  /** Segments written by each path. */
  written: Record<WritePath, number>;
}

const optionalNumber = (v: string | undefined) => (v === undefined ? undefined : Number(v));

function toRecord(h: Record<string, string>): LoadRecord | undefined {
  const state = LoadState.safeParse(h.state);
  if (!state.success) return undefined;
  return {
    state: state.data,
    count: Number(h.count),
    segmentSize: Number(h.segmentSize),
    segments: Number(h.segments),
    loaded: Number(h.loaded ?? 0),
    createdAt: Number(h.createdAt ?? 0),
    startedAt: optionalNumber(h.startedAt),
    finishedAt: optionalNumber(h.finishedAt),
    error: h.error,
    written: { restore: Number(h.restoreSegments ?? 0), lpush: Number(h.lpushSegments ?? 0) },
  };
}

/** The key holding segment `index` of a load: its newest segment is staged beside `biglist`. */
export function segmentKey(loadId: string, index: number, segments: number): string {
  return index === segments - 1 ? keys.biglistStaged(loadId) : keys.biglistSegment(loadId, index);
}

/** Where reads of a published load find segment `index`. */
function publishedSegmentKey(load: CurrentLoad, index: number): string {
  return index === load.segments - 1 ? keys.biglist() : keys.biglistSegment(load.loadId, index);
}

/** The outcome of claiming the loader (see ClaimReply); 'contended' when it kept changing under us. */
export type Claim = Exclude<ClaimReply, { status: 'retry' }> | { status: 'contended' };

/**
 * Claims the loader for a new load; 'busy' with the running load's id when one is in progress. A load
 * that made no progress for `stallMs` does not block: it is failed and queued for clean-up.
 */
export async function claimLoad(
  redis: Redis,
  load: CurrentLoad,
  now: number,
  stallMs: number,
  idempotency?: Idempotency,
): Promise<Claim> {
  const fields = {
    state: 'queued',
    count: String(load.count),
    segmentSize: String(load.segmentSize),
    segments: String(load.segments),
    loaded: '0',
    createdAt: String(now),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    const seen = (await redis.get(keys.biglistActive())) ?? '';
    const reply = await runScript(
      redis,
      BIGLIST_CLAIM,
      [
        keys.biglistActive(),
        keys.biglistLoad(load.loadId),
        keys.biglistLoad(seen || load.loadId),
        keys.biglistCleanup(),
        ...(idempotency ? [keys.biglistIdempotency(idempotency.key)] : []),
      ],
      [
        load.loadId,
        String(now),
        String(stallMs),
        seen,
        stalledReason(stallMs),
        idempotency?.fingerprint ?? '',
        ...Object.entries(fields).flat(),
      ],
    );
    if (reply.status !== 'retry') return reply;
  }
  return { status: 'contended' };
}

/** The error recorded on a load that stalled. */
export function stalledReason(stallMs: number): string {
  return `no progress for ${Math.round(stallMs / 1000)} s`;
}

/** A load's record (undefined when unknown) and, while running, how many segments are done. */
export async function readLoad(
  redis: Redis,
  loadId: string,
): Promise<{ record: LoadRecord | undefined; done: number }> {
  const [hash, done] = await Promise.all([
    redis.hGetAll(keys.biglistLoad(loadId)),
    redis.sCard(keys.biglistDone(loadId)),
  ]);
  return { record: toRecord(hash), done };
}

/** Marks the load running (first segment); returns its state. */
export async function startSegment(redis: Redis, loadId: string, now: number): Promise<LoadStateReply> {
  return runScript(redis, BIGLIST_START, [keys.biglistLoad(loadId)], [String(now)]);
}

/** Records a finished segment and how it was written; the call that completes the load publishes it. */
export async function markSegmentDone(
  redis: Redis,
  load: CurrentLoad,
  segment: { index: number; size: number; path: WritePath },
  now: number,
): Promise<DoneReply> {
  return runScript(
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
    [
      String(segment.index),
      String(segment.size),
      load.loadId,
      String(now),
      JSON.stringify(load),
      segment.path,
    ],
  );
}

/**
 * Ends a load in progress as `failed` or `cancelled`, frees the loader and queues its data for clean-up,
 * atomically; with `onlyIfStallMs`, only if it made no progress for that long. Returns the load's state
 * afterwards ('unknown' without a record).
 */
export async function endLoad(
  redis: Redis,
  loadId: string,
  end: {
    state: 'failed' | 'cancelled';
    reason: string;
    now: number;
    onlyIfStallMs?: number;
    /** The key that started the load, forgotten with it (the load never ran, so a retry starts anew). */
    forget?: Idempotency | undefined;
  },
): Promise<LoadStateReply> {
  return runScript(
    redis,
    BIGLIST_END,
    [
      keys.biglistLoad(loadId),
      keys.biglistActive(),
      keys.biglistCleanup(),
      ...(end.forget ? [keys.biglistIdempotency(end.forget.key)] : []),
    ],
    [
      loadId,
      end.state,
      end.reason,
      String(end.now),
      end.onlyIfStallMs === undefined ? '' : String(end.onlyIfStallMs),
    ],
  );
}

/** Removes every attempt copy a load's deliveries made (all garbage once the load is published or ended). */
export async function removeAttempts(redis: Redis, loadId: string): Promise<void> {
  const attempts = await redis.sMembers(keys.biglistAttempts(loadId));
  await Promise.all(attempts.map((k) => redis.unlink(k)));
  await redis.unlink(keys.biglistAttempts(loadId));
}

/**
 * Removes the data of loads queued for clean-up (failed, cancelled or replaced), a few per call; a load
 * leaves the queue only once its keys are gone, so an interrupted clean-up is picked up by the next call.
 * The published list is never touched: its newest segment is `biglist` itself.
 */
export async function cleanUp(redis: Redis): Promise<number> {
  const [ids, currentJson] = await Promise.all([
    redis.sRandMemberCount(keys.biglistCleanup(), CLEANUPS_PER_CALL),
    redis.get(keys.biglistCurrent()),
  ]);
  const current = parseCurrent(currentJson);
  for (const loadId of ids) {
    if (current?.loadId === loadId) {
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

/** Removes one segment key (left by a delivery of a load that ended meanwhile). */
export async function removeSegment(redis: Redis, key: string): Promise<void> {
  await redis.unlink(key);
}

/** The published load, if any. */
export async function readCurrent(redis: Redis): Promise<CurrentLoad | undefined> {
  return parseCurrent(await redis.get(keys.biglistCurrent()));
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
  const [head, ...older] = await Promise.all([
    runScript(
      redis,
      BIGLIST_READ_NEWEST,
      [keys.biglistCurrent(), keys.biglist()],
      newest ? [String(newest.start), String(newest.stop)] : ['-1', '-1'],
    ),
    ...ranges
      .filter((r) => r !== newest)
      .map((r) => redis.lRange(publishedSegmentKey(load, r.index), r.start, r.stop)),
  ]);
  if (parseCurrent(head.current)?.loadId !== load.loadId) return undefined;
  let o = 0;
  const out = ranges.map((r) => (r === newest ? head.values : (older[o++] ?? [])));
  return out.every((values, i) => values.length === (ranges[i]?.stop ?? 0) - (ranges[i]?.start ?? 0) + 1)
    ? out
    : undefined;
}

/**
 * The serialized form (DUMP) of segment `index` of the published load, or undefined when the load is no
 * longer there. The newest segment is `biglist` itself, so it is dumped in one script with the check that
 * `{biglist}:current` still names this load; older segments have keys of their own load.
 */
export async function dumpSegment(
  redis: Redis,
  load: CurrentLoad,
  index: number,
): Promise<Buffer | undefined> {
  const binary = redis.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  if (index === load.segments - 1) {
    return runScript(binary, BIGLIST_DUMP_NEWEST, [keys.biglistCurrent(), keys.biglist()], [load.loadId]);
  }
  const dumped: unknown = await binary.dump(keys.biglistSegment(load.loadId, index));
  return Buffer.isBuffer(dumped) ? dumped : undefined;
}
