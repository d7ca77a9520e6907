import { randomBytes } from 'node:crypto';

import { getConfig } from '../config.js';
import { DeliveryRetryError, ensureError, errors, isRedisUnavailable } from '../errors.js';
import type { Idempotency } from '../idempotency.js';
import { ID_PATTERN } from '../ids.js';
import { getRedis, type Redis } from '../redis/client.js';
import { writeDecimalLines } from '../redis/rdb/decimalLines.js';
import { readIntegers } from '../redis/rdb/listReader.js';
import { sendMessages } from '../storage/queue.js';
import { traceCarrier } from '../telemetry/spans.js';
import { instruments } from '../telemetry/tracer.js';
import {
  belongsTo,
  exportOrder,
  initialMessages,
  pageCursor,
  pageWindow,
  planLoad,
  rangesFor,
  readPageCursor,
  segmentMessages,
} from './plan.js';
import {
  BIGLIST_QUEUE,
  type BiglistPage,
  type CurrentLoad,
  DEFAULT_SEGMENT_SIZE,
  LoaderMessage,
  type LoadStatus,
  type StartLoadInput,
  type WritePath,
} from './schema.js';
import {
  attemptToken,
  claimLoad,
  cleanUp,
  commitAttempt,
  dumpSegment,
  endLoad,
  isCommitted,
  type LoadRecord,
  markSegmentDone,
  probeRestore,
  pushAttempt,
  readCurrent,
  readLoad,
  readRanges,
  removeAttempts,
  removeEarlierAttempts,
  removeSegment,
  restoreAttempt,
  segmentKey,
  stalledReason,
  startSegment,
} from './store.js';

/** host.json `extensions.queues.maxDequeueCount`: the delivery after which a failing message is poison. */
export const MAX_DEQUEUE_COUNT = 5;
/**
 * Segments smaller than this are written with pipelined LPUSH even when RESTORE is available: below it
 * RESTORE gains too little to matter (`npm run bench:biglist`), and the classic 10,000-value load stays
 * the seed's LPUSH.
 */
export const RESTORE_MIN_VALUES = 50_000;

/** Logging the loader needs (an InvocationContext fits). */
export interface Log {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** Which delivery of a queue message this is. */
export interface Delivery {
  /** 1 for the first delivery. */
  dequeueCount: number;
  /** The queue message id (the same for every delivery of one message), when the trigger gives it. */
  messageId?: string;
}

const silent: Log = { log: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Removes the data of ended loads queued for clean-up. It runs after every state change that queues
 * some and whenever the loader is touched, so work interrupted by an outage resumes once Redis is back.
 */
async function tidy(redis: Redis, log: Log): Promise<void> {
  try {
    await cleanUp(redis);
  } catch (err) {
    // Nothing is lost: the loads stay queued for clean-up and the next call resumes.
    log.warn(`biglist: clean-up deferred: ${ensureError(err).message}`);
  }
}

/** A load started (or, for a retried Idempotency-Key, found started) and the messages sent for it. */
export interface StartedLoad {
  loadId: string;
  segments: number;
  messages: LoaderMessage[];
  replayed: boolean;
}

/** Sends a load's first messages, each carrying the request's trace so the load is one trace with it. */
async function enqueue(load: CurrentLoad): Promise<LoaderMessage[]> {
  const carrier = traceCarrier();
  const messages = initialMessages(load).map((m) => ({ ...m, ...carrier }));
  await sendMessages(BIGLIST_QUEUE, messages, getConfig().redis.deadlineMs || 2000);
  return messages;
}

/**
 * The answer to a retried Idempotency-Key: the load it started. A load still queued may have lost its
 * messages (the first request died before sending them, or sending failed and the load could not be
 * ended), so they are sent again: segments are committed exactly once, so duplicates cost nothing.
 */
async function replayLoad(redis: Redis, loadId: string): Promise<StartedLoad> {
  const { record } = await readLoad(redis, loadId);
  if (record?.state !== 'queued') {
    return { loadId, segments: record?.segments ?? 0, messages: [], replayed: true };
  }
  const messages = await enqueue(planLoad(loadId, record.count, record.segmentSize));
  return { loadId, segments: record.segments, messages, replayed: true };
}

/**
 * Starts a load of 1..count: claims the loader (409 while another load makes progress) and sends the
 * load's messages. If the queue does not take them in time the load is ended at once, its Idempotency-Key
 * forgotten, and the error (503) propagates: nothing is left claimed, so a retry really starts the load.
 * A retry of a key that started a load is answered with that load, never a second one.
 */
export async function startLoad(
  input: StartLoadInput,
  idempotency?: Idempotency,
  now = Date.now(),
): Promise<StartedLoad> {
  const load = planLoad(
    randomBytes(6).toString('hex'),
    input.count,
    input.segmentSize ?? DEFAULT_SEGMENT_SIZE,
  );
  const redis = await getRedis();
  const claim = await claimLoad(redis, load, now, getConfig().biglistStallMs, idempotency);
  if (claim.status === 'reused') throw errors.idempotencyKeyReused();
  if (claim.status === 'replayed') return replayLoad(redis, claim.loadId);
  if (claim.status === 'busy') throw errors.loadInProgress(claim.active);
  if (claim.status === 'contended') throw errors.loadInProgress();
  let messages: LoaderMessage[];
  try {
    messages = await enqueue(load);
  } catch (err) {
    // Messages sent before the failure find the load ended and are dropped by the loader.
    await endLoad(redis, load.loadId, {
      state: 'failed',
      reason: 'its messages could not be enqueued',
      now: Date.now(),
      forget: idempotency,
    }).catch(() => undefined);
    throw err;
  }
  await tidy(redis, silent);
  return { loadId: load.loadId, segments: load.segments, messages, replayed: false };
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

function toStatus(loadId: string, r: LoadRecord, done: number, now: number): LoadStatus {
  const seconds = r.startedAt === undefined ? 0 : ((r.finishedAt ?? now) - r.startedAt) / 1000;
  return {
    loadId,
    state: r.state,
    count: r.count,
    segmentSize: r.segmentSize,
    loaded: r.loaded,
    segments: { total: r.segments, done: r.state === 'completed' ? r.segments : done },
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
    valuesPerSecond: seconds > 0 ? Math.round(r.loaded / seconds) : null,
    writePath: r.written,
    ...(r.error === undefined ? {} : { error: r.error }),
  };
}

/**
 * A load's progress; 404 when unknown (or long replaced). A load that made no progress for
 * BIGLIST_STALL_SECONDS is failed here (and its data queued for removal), so it never looks running forever.
 */
export async function getLoad(loadId: string, now = Date.now()): Promise<LoadStatus> {
  const redis = await getRedis();
  let { record, done } = await readLoad(redis, loadId);
  if (!record) throw errors.loadNotFound(loadId);
  if (record.state === 'queued' || record.state === 'running') {
    const stallMs = getConfig().biglistStallMs;
    const after = await endLoad(redis, loadId, {
      state: 'failed',
      reason: stalledReason(stallMs),
      now,
      onlyIfStallMs: stallMs,
    });
    if (after === 'failed') {
      await tidy(redis, silent);
      ({ record, done } = await readLoad(redis, loadId));
      if (!record) throw errors.loadNotFound(loadId);
    }
  }
  return toStatus(loadId, record, done, now);
}

/** Cancels a load in progress: no further segment is written, its data is removed, the published list stays. */
export async function cancelLoad(loadId: string, now = Date.now()): Promise<LoadStatus> {
  const redis = await getRedis();
  const after = await endLoad(redis, loadId, { state: 'cancelled', reason: 'cancelled', now });
  if (after === '') throw errors.loadNotFound(loadId);
  if (after !== 'cancelled') throw errors.loadFinished(loadId, after);
  await tidy(redis, silent);
  const { record, done } = await readLoad(redis, loadId);
  if (!record) throw errors.loadNotFound(loadId);
  return toStatus(loadId, record, done, now);
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

/** What a delivery asks the trigger to do besides succeeding: enqueue more, or dead-letter this one (and why). */
export interface Outcome {
  enqueue: LoaderMessage[];
  poison: boolean;
  reason?: string;
}

// The longest message text a dead letter keeps: the queue takes 64 KB, and base64 adds a third.
const DEAD_LETTER_MAX_CHARS = 16_384;

/**
 * What is sent to the poison queue for a message that can never succeed: the reason and the message's
 * text as it arrived (`raw`, or the parsed message when the text is not known), cut to a bound, as one
 * JSON string. Always serialisable and small enough, whatever arrived (a message nested thousands deep,
 * hundreds of kilobytes of numbers), so that the dead-lettering itself never fails and is never retried.
 */
export function deadLetter(raw: unknown, reason: string): string {
  let text: string;
  try {
    // JSON.stringify answers undefined for undefined or a function, whatever its declared type says.
    const json = typeof raw === 'string' ? raw : (JSON.stringify(raw) as unknown);
    text = typeof json === 'string' ? json : String(raw);
  } catch {
    // Past V8's recursion limit; the caller passes the text when it has it, so this is the rare case.
    text = '(not serialisable: nested too deeply)';
  }
  const truncated = text.length > DEAD_LETTER_MAX_CHARS;
  return JSON.stringify({
    reason: reason.slice(0, 1000),
    truncated,
    message: truncated ? text.slice(0, DEAD_LETTER_MAX_CHARS) : text,
  });
}

function poisoned(reason: string): Outcome {
  return { enqueue: [], poison: true, reason };
}

/**
 * Handles one queue message, validated before Redis is touched. Writes go to a private attempt key (named
 * after the message and delivery) that is renamed into place only if complete and no other delivery
 * committed first, so a message delivered twice (even concurrently) never duplicates or loses a value;
 * what an earlier, crashed delivery of the same message left half-written is removed first. Transient
 * failures throw for the host to retry; on the last delivery the load is marked failed first (and if Redis
 * cannot be reached then, the stall rule ends it once it is back). A malformed message is dead-lettered at
 * once, before any write.
 */
export async function processMessage(
  raw: unknown,
  delivery: Delivery,
  log: Log,
  now = () => Date.now(),
): Promise<Outcome> {
  const parsed = LoaderMessage.safeParse(raw);
  if (!parsed.success) {
    // The first few issues only: a message of thousands of bad values must not become a log line as big.
    const issues = parsed.error.issues;
    const reason = `malformed: ${issues
      .slice(0, 3)
      .map((i) => `${i.path.slice(0, 5).join('.')}: ${i.message}`)
      .join('; ')}${issues.length > 3 ? ` (and ${issues.length - 3} more)` : ''}`;
    log.error(`biglist: message dead-lettered: ${reason}`);
    const loadId = Array.isArray(raw) ? undefined : (raw as { loadId?: unknown } | null)?.loadId;
    if (typeof loadId === 'string' && ID_PATTERN.test(loadId)) {
      await abandon(await getRedis(), loadId, 'a segment message was malformed', now(), log);
    }
    return poisoned(reason);
  }
  const msg = parsed.data;
  const redis = await getRedis();
  const { record } = await readLoad(redis, msg.loadId);
  if (!record || (record.state !== 'queued' && record.state !== 'running')) {
    log.warn(`biglist: load ${msg.loadId} is ${record?.state ?? 'unknown'}; message ignored`);
    if (record && msg.kind === 'segment') {
      const finalKey = segmentKey(msg.loadId, msg.index, record.segments);
      // What earlier deliveries of this message left half-written goes whatever the load's fate.
      await removeEarlierAttempts(redis, finalKey, delivery.messageId, delivery.dequeueCount + 1);
      // A delivery that committed and then crashed may have left this segment behind the clean-up.
      if (record.state !== 'completed') await removeSegment(redis, finalKey);
    }
    await tidy(redis, log);
    return { enqueue: [], poison: false };
  }
  const load = planLoad(msg.loadId, record.count, record.segmentSize);
  if (!belongsTo(load, msg)) {
    log.error(`biglist: message does not match load ${msg.loadId}; dead-lettered`);
    await abandon(redis, msg.loadId, 'a segment message did not match its load', now(), log);
    return poisoned(`does not match load ${msg.loadId}`);
  }
  if (msg.kind === 'fanout') {
    const carrier = traceCarrier();
    const enqueue = segmentMessages(load, msg.from, msg.to).map((m) => ({ ...m, ...carrier }));
    return { enqueue, poison: false };
  }

  const finalKey = segmentKey(load.loadId, msg.index, load.segments);
  const size = msg.end - msg.start + 1;
  try {
    await startSegment(redis, load.loadId, now());
    await removeEarlierAttempts(redis, finalKey, delivery.messageId, delivery.dequeueCount);
    let path: WritePath = 'lpush';
    if (await isCommitted(redis, finalKey)) {
      log.log(`biglist: segment ${msg.index} of ${load.loadId} already written (redelivery)`);
    } else {
      const write = {
        loadId: load.loadId,
        finalKey,
        token: attemptToken(delivery.messageId, delivery.dequeueCount),
        start: msg.start,
        end: msg.end,
      };
      if (size >= RESTORE_MIN_VALUES && (await restoreWorks(redis, log))) path = 'restore';
      const attempt =
        path === 'restore' ? await restoreAttempt(redis, write) : await pushAttempt(redis, write);
      const committed = await commitAttempt(redis, attempt, finalKey, size);
      if (committed === 'incomplete') {
        throw new DeliveryRetryError(`segment ${msg.index} was cut short; retrying`);
      }
      if (committed === 'duplicate') {
        log.log(
          `biglist: segment ${msg.index} of ${load.loadId} was committed by another delivery; discarded this copy`,
        );
      }
    }
    const done = await markSegmentDone(redis, load, { index: msg.index, size, path }, now());
    instruments().valuesWritten.add(size, { 'biglist.write_path': path });
    instruments().segmentsDone.add(1, { 'biglist.write_path': path });
    const newest = msg.index === load.segments - 1;
    if (
      done.status === 'failed' ||
      done.status === 'cancelled' ||
      done.status === 'unknown' ||
      (done.status === 'completed' && newest)
    ) {
      // The load ended while this delivery was writing: what it committed is an orphan that the
      // clean-up may already have passed.
      await removeSegment(redis, finalKey);
    }
    if (done.status === 'published') {
      log.log(`biglist: load ${load.loadId} published (${load.count} values in ${load.segments} segments)`);
      // Copies left by crashed or duplicate deliveries are garbage now; the TTL is only the backstop.
      await removeAttempts(redis, load.loadId).catch((e: unknown) => {
        log.warn(`biglist: removing attempt copies of ${load.loadId} deferred: ${ensureError(e).message}`);
      });
    }
    if (done.status !== 'pending') await tidy(redis, log);
    return { enqueue: [], poison: false };
  } catch (err) {
    if (delivery.dequeueCount >= MAX_DEQUEUE_COUNT) {
      await endLoad(redis, load.loadId, {
        state: 'failed',
        reason: `segment ${msg.index} failed ${delivery.dequeueCount} times`,
        now: now(),
      }).catch((e: unknown) => {
        // Not dropped: with no segment finishing, the stall rule fails the load once Redis answers.
        log.error(`biglist: could not mark load ${load.loadId} failed: ${ensureError(e).message}`);
      });
    }
    throw err;
  }
}

/** Marks a load failed, frees the loader and drops what its segments wrote so far. */
async function abandon(redis: Redis, loadId: string, reason: string, now: number, log: Log): Promise<void> {
  await endLoad(redis, loadId, { state: 'failed', reason, now });
  // Deliveries still writing clean up after themselves when they find the load failed.
  await tidy(redis, log);
}

/** A page of the published list in exact order (newest first by default), with a stable cursor. */
export async function readPage(
  limit: number,
  order: 'desc' | 'asc',
  cursorText?: string,
): Promise<BiglistPage> {
  const cursor = cursorText === undefined ? undefined : readPageCursor(cursorText);
  if (cursorText !== undefined && !cursor) {
    throw errors.invalidCursor();
  }
  if (cursor && cursor.order !== order) {
    throw errors.invalidCursor('The cursor belongs to the other order.');
  }
  const redis = await getRedis();
  const load = await readCurrent(redis);
  if (!load) {
    if (cursor) throw errors.listReplaced('this cursor belongs to is gone');
    return { values: [], nextCursor: null };
  }
  if (cursor && cursor.loadId !== load.loadId) throw errors.listReplaced('was replaced by a newer load');
  const window = pageWindow(load, order, cursor?.position ?? 0, limit);
  if (!window) return { values: [], nextCursor: null };
  const chunks = await readRanges(redis, load, rangesFor(load, window.from, window.to));
  if (!chunks) throw errors.listReplaced('was replaced while reading');
  const values = chunks.flat().map(Number);
  if (order === 'asc') values.reverse();
  const next =
    window.end + 1 < load.count ? pageCursor({ loadId: load.loadId, position: window.end + 1, order }) : null;
  return { values, nextCursor: next };
}

/** The export was cut short: the list it was reading was replaced. */
export class ExportAbortedError extends Error {
  override name = 'ExportAbortedError';
}

// Values per chunk of text handed to the response: about 600 KB, small against one segment's payload.
const EXPORT_CHUNK_VALUES = 65_536;
/**
 * The whole published list as text, one value per line, newest first (desc) or oldest first (asc). Each
 * segment is read with one DUMP (the newest checked against `{biglist}:current` in the same script) and
 * decoded here, one segment ahead of what is being sent, each chunk only once `ready()` says the
 * receiver can take it; if the list is replaced meanwhile the stream fails with ExportAbortedError, so the
 * response is cut off rather than mixing two loads. 404 when nothing is published.
 */
export async function exportList(
  order: 'desc' | 'asc',
  ready: () => Promise<void> = () => Promise.resolve(),
): Promise<{ load: CurrentLoad; lines: AsyncGenerator<Buffer> }> {
  const found = await readCurrent(await getRedis());
  if (!found) throw errors.listNotFound();
  const load = found;
  const indexes = exportOrder(load, order);
  const dump = async (index: number | undefined) => {
    if (index === undefined) return undefined;
    const payload = await dumpSegment(await getRedis(), load, index);
    if (!payload) throw new ExportAbortedError(`load ${load.loadId} was replaced during the export`);
    return payload;
  };
  async function* lines(): AsyncGenerator<Buffer> {
    // One segment's values at a time, decoded into the same array.
    const values = new Int32Array(load.segmentSize);
    let next = dump(indexes[0]);
    for (let i = 0; i < indexes.length; i++) {
      const payload = await next;
      next = dump(indexes[i + 1]);
      // Not left unhandled while this segment is being sent: the next await reports it.
      next.catch(() => undefined);
      if (!payload) break;
      const n = readIntegers(payload, values);
      // A segment holds its values newest first; ascending order reads it backwards.
      for (let from = 0; from < n; from += EXPORT_CHUNK_VALUES) {
        // Produce only as fast as the receiver takes: the body never piles up in memory.
        await ready();
        const to = Math.min(n, from + EXPORT_CHUNK_VALUES);
        const text = Buffer.allocUnsafe((to - from) * 12);
        const bytes =
          order === 'desc'
            ? writeDecimalLines(values, from, to, false, text)
            : writeDecimalLines(values, n - to, n - from, true, text);
        yield text.subarray(0, bytes);
      }
    }
  }
  return { load, lines: lines() };
}
