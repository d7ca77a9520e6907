// The loads and the reads of the published list (Server B): start, progress, cancel, pages, export. What
// one queue message does is loader.ts.
import { randomBytes } from 'node:crypto';

import { getConfig } from '../config.js';
import { ensureError, errors } from '../errors.js';
import type { Idempotency } from '../idempotency.js';
import { getRedis } from '../redis/client.js';
import type { Redis } from '../redis/connect.js';
import { listLines } from '../redis/rdb/decimalLines.js';
import { sendMessages } from '../storage/queue.js';
import { traceCarrier } from '../telemetry/spans.js';
import {
  exportOrder,
  initialMessages,
  pageCursor,
  pageWindow,
  planLoad,
  rangesFor,
  readPageCursor,
} from './plan.js';
import {
  BIGLIST_QUEUE,
  type BiglistPage,
  type CurrentLoad,
  DEFAULT_SEGMENT_SIZE,
  type LoaderMessage,
  type LoadStatus,
  type StartLoadInput,
} from './schema.js';
import type { Log } from './segmentStore.js';
import {
  claimLoad,
  cleanUp,
  dumpSegment,
  endLoad,
  type LoadRecord,
  readCurrent,
  readLoad,
  readRanges,
  stalledReason,
} from './store.js';

const silent: Log = { log: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Removes the data of ended loads queued for clean-up. It runs after every state change that queues
 * some and whenever the loader is touched, so work interrupted by an outage resumes once Redis is back.
 */
export async function tidy(redis: Redis, log: Log = silent): Promise<void> {
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
  await tidy(redis);
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
      await tidy(redis);
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
  if (after === 'unknown') throw errors.loadNotFound(loadId);
  if (after !== 'cancelled') throw errors.loadFinished(loadId, after);
  await tidy(redis);
  const { record, done } = await readLoad(redis, loadId);
  if (!record) throw errors.loadNotFound(loadId);
  return toStatus(loadId, record, done, now);
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

/**
 * The whole published list as text, one value per line, newest first (desc) or oldest first (asc). Each
 * segment is read with one DUMP (the newest checked against `{biglist}:current` in the same script) and
 * decoded (shared/redis/rdb), one segment ahead of what is being sent, each chunk only once `ready()` says the
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
      // A segment holds its values newest first; ascending order reads it backwards.
      const text = listLines(payload, order === 'asc', values);
      // Produce only as fast as the receiver takes: the body never piles up in memory.
      for (;;) {
        await ready();
        const chunk = text.next();
        if (chunk.done) break;
        yield chunk.value;
      }
    }
  }
  return { load, lines: lines() };
}
