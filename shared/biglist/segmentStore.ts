// The write path of one segment, in one place: the delivery's private attempt key, LPUSH or RESTORE (the
// policy that picks one, RESTORE's semaphore and payload buffers) and the commit that renames it into place.
import { randomBytes } from 'node:crypto';

import { getConfig } from '../config.js';
import { DeliveryRetryError, ensureError, isRedisUnavailable } from '../errors.js';
import type { Redis } from '../redis/connect.js';
import { keys } from '../redis/keys.js';
import { descendingListPayload, payloadBound } from '../redis/rdb/listPayload.js';
import { runScript } from '../redis/scripts.js';
import type { WritePath } from './schema.js';
import { BIGLIST_COMMIT } from './scripts.js';

/** Values per LPUSH (variadic); with PUSH_IN_FLIGHT the best pair in `npm run bench:biglist`. */
export const PUSH_BATCH = 10_000;
/** LPUSH commands in flight per segment write: a bounded pipeline, never one giant one. */
export const PUSH_IN_FLIGHT = 4;
/**
 * Segments smaller than this are written with pipelined LPUSH even when RESTORE is available: below it
 * RESTORE gains too little to matter (`npm run bench:biglist`), and the classic 10,000-value load stays
 * the seed's LPUSH.
 */
export const RESTORE_MIN_VALUES = 50_000;
// Half-written copies are removed when their segment is next handled; this TTL is the backstop for
// copies whose message never comes back.
const ATTEMPT_TTL_MS = 15 * 60_000;
// RESTOREs a worker runs at once: one being built here while Redis loads the other was the best pair in
// `npm run bench:biglist` (4 at once was a third slower). Each has a payload buffer that is reused, so a
// worker holds at most this many payloads (about 6 MB each) and pays no page faults of a fresh
// multi-megabyte allocation per segment.
const RESTORES_AT_ONCE = 2;
const PAYLOAD_BUFFER_VALUES = 1_000_000;
const payloadBuffers: Buffer[] = [];
let restoresRunning = 0;
const restoreWaiters: Array<() => void> = [];

/** Logging the write path needs (an InvocationContext fits). */
export interface Log {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** One delivery's write of a segment: values start..end of a load, into its own attempt key. */
export interface SegmentWrite {
  loadId: string;
  /** Where the segment goes once complete. */
  finalKey: string;
  /** Names the delivery (see attemptToken). */
  token: string;
  start: number;
  end: number;
}

/** What writing a segment did: committed it, found it committed by another delivery, or found it already there. */
export type SegmentOutcome = {
  path: WritePath;
  result: 'committed' | 'duplicate' | 'redelivered';
};

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
  await Promise.all(doomed.map((k) => redis.unlink(k)));
}

/**
 * Writes one segment exactly once: into the delivery's attempt key (RESTORE for big segments when the
 * server takes it, else LPUSH), then renamed into place unless another delivery committed first. Throws
 * DeliveryRetryError when the attempt was cut short, for the host to deliver the message again.
 */
export async function writeSegment(redis: Redis, write: SegmentWrite, log: Log): Promise<SegmentOutcome> {
  if ((await redis.exists(write.finalKey)) === 1) return { path: 'lpush', result: 'redelivered' };
  const size = write.end - write.start + 1;
  const path: WritePath =
    size >= RESTORE_MIN_VALUES && (await restoreWorks(redis, log)) ? 'restore' : 'lpush';
  const attempt = path === 'restore' ? await restoreAttempt(redis, write) : await pushAttempt(redis, write);
  const committed = await commitAttempt(redis, attempt, write.finalKey, size);
  if (committed === 'incomplete') throw new DeliveryRetryError(`${write.finalKey} was cut short; retrying`);
  return { path, result: committed };
}

/** Moves a finished attempt of `length` values into place; 'duplicate' when another delivery committed first. */
export async function commitAttempt(
  redis: Redis,
  attempt: string,
  finalKey: string,
  length: number,
): Promise<'committed' | 'duplicate' | 'incomplete'> {
  return runScript(redis, BIGLIST_COMMIT, [attempt, finalKey], [String(length)]);
}

/**
 * The attempt key of a delivery, listed for the clean-up of its load before it exists. The list expires
 * like the copies it names (each new attempt renews it): if the clean-up after publishing is cut off, it
 * is not left behind for good.
 */
async function newAttempt(redis: Redis, write: SegmentWrite): Promise<string> {
  const attempt = keys.biglistAttempt(write.finalKey, write.token);
  const listed = keys.biglistAttempts(write.loadId);
  await redis.multi().sAdd(listed, attempt).pExpire(listed, ATTEMPT_TTL_MS).exec();
  return attempt;
}

/** Values from..min(end, from + PUSH_BATCH - 1) as the strings one LPUSH sends. */
function pushBatch(from: number, end: number): string[] {
  const to = Math.min(end, from + PUSH_BATCH - 1);
  const values = new Array<string>(to - from + 1);
  for (let i = 0; i < values.length; i++) values[i] = String(from + i);
  return values;
}

/**
 * Writes values start..end (ascending, so the head holds the largest) into the delivery's private attempt
 * key with variadic LPUSHes, at most PUSH_IN_FLIGHT in flight; memory stays bounded whatever the segment
 * size. Only the first push may create the key (with its TTL, in one MULTI); the others are LPUSHX, so a
 * copy removed meanwhile (by a later delivery) is never recreated without a TTL.
 */
export async function pushAttempt(redis: Redis, write: SegmentWrite): Promise<string> {
  const attempt = await newAttempt(redis, write);
  await redis
    .multi()
    .lPush(attempt, pushBatch(write.start, write.end))
    .pExpire(attempt, ATTEMPT_TTL_MS)
    .exec();
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  for (let from = write.start + PUSH_BATCH; from <= write.end && failure === undefined; from += PUSH_BATCH) {
    // Tracked pushes never reject: the first error is kept and thrown once, so none goes unhandled.
    const tracked: Promise<void> = redis.lPushX(attempt, pushBatch(from, write.end)).then(
      (length) => {
        if (length === 0) {
          failure ??= new DeliveryRetryError(`attempt ${attempt} was removed while being written`);
        }
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

/**
 * Writes values start..end into the delivery's private attempt key in one RESTORE of the serialized list
 * (built here, one segment's payload in memory at a time), with the attempt's TTL.
 */
export async function restoreAttempt(redis: Redis, write: SegmentWrite): Promise<string> {
  const attempt = await newAttempt(redis, write);
  // More RESTOREs at once than this only queue up in Redis and fight for the same core.
  while (restoresRunning >= RESTORES_AT_ONCE) await new Promise<void>((r) => restoreWaiters.push(r));
  restoresRunning++;
  const buffer = payloadBuffers.pop() ?? Buffer.allocUnsafe(payloadBound(PAYLOAD_BUFFER_VALUES));
  try {
    const payload = descendingListPayload(write.end, write.start, buffer);
    await redis.restore(attempt, ATTEMPT_TTL_MS, payload, { REPLACE: true });
  } finally {
    // Written and answered: the buffer is free again for the next segment.
    payloadBuffers.push(buffer);
    restoresRunning--;
    restoreWaiters.shift()?.();
  }
  return attempt;
}

// The worker's verdict on RESTORE in `auto` mode, found once on the real server and kept for its life.
let restoreVerdict: Promise<boolean> | undefined;

/**
 * Whether this worker writes big segments by RESTORE. `restore` and `lpush` are taken as said; `auto`
 * restores a small list into a temporary key and reads it back on first use, and falls back to LPUSH for
 * the life of the worker if the server refuses (version, checksum, an ACL without RESTORE, a proxy that
 * blocks it) or answers anything else. Redis being unreachable decides nothing: the next segment asks again.
 */
async function restoreWorks(redis: Redis, log: Log): Promise<boolean> {
  const mode = getConfig().biglistWriteMode;
  if (mode !== 'auto') return mode === 'restore';
  restoreVerdict ??= probeRestore(redis).then(
    (ok) => {
      if (ok) log.log('biglist: RESTORE verified on this server; large segments are written by RESTORE');
      else log.warn('biglist: RESTORE gave back another list; falling back to LPUSH for this worker');
      return ok;
    },
    (err: unknown) => {
      if (isRedisUnavailable(err)) {
        restoreVerdict = undefined;
        throw err;
      }
      log.warn(
        `biglist: RESTORE refused (${ensureError(err).message}); falling back to LPUSH for this worker`,
      );
      return false;
    },
  );
  return restoreVerdict;
}

/**
 * Checks that this server takes our serialized lists: restores a small one (values that use every
 * integer encoding a load can produce) into a temporary key, reads it back and deletes it. Throws what the
 * server answered when it refuses; false when it accepted something else than was sent.
 */
async function probeRestore(redis: Redis): Promise<boolean> {
  const probe = `{${keys.biglist()}}:probe:${randomBytes(6).toString('hex')}`;
  const head = 8_388_610;
  const tail = 8_388_590;
  try {
    await redis.restore(probe, 60_000, descendingListPayload(head, tail));
    const back = await redis.lRange(probe, 0, -1);
    return back.length === head - tail + 1 && back.every((v, i) => v === String(head - i));
  } finally {
    await redis.unlink(probe).catch(() => undefined);
  }
}
