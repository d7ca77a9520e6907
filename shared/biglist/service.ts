import { randomBytes } from 'node:crypto';
import { getConfig } from '../config.js';
import { AppError, ensureError } from '../errors.js';
import { ID_PATTERN } from '../ids.js';
import { getRedis, type Redis } from '../redis/client.js';
import { sendMessages } from '../storage/queue.js';
import {
  BIGLIST_QUEUE,
  BiglistPage,
  CurrentLoad,
  DEFAULT_SEGMENT_SIZE,
  LoaderMessage,
  type LoadStatus,
  type StartLoadInput,
} from './schema.js';
import {
  attemptToken,
  claimLoad,
  cleanUp,
  commitAttempt,
  endLoad,
  isCommitted,
  markSegmentDone,
  readCurrent,
  readLoad,
  readRanges,
  removeAttempts,
  removeEarlierAttempts,
  removeSegment,
  segmentKey,
  stalledReason,
  startSegment,
  writeAttempt,
  type SegmentRange,
} from './store.js';

/** Segment messages one fan-out message expands into (bounds each invocation's output). */
export const FANOUT = 1000;
/** host.json `extensions.queues.maxDequeueCount`: the delivery after which a failing message is poison. */
export const MAX_DEQUEUE_COUNT = 5;

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

/** The load's shape: how many segments of which size, the newest possibly shorter. */
function plan(count: number, segmentSize: number): CurrentLoad & { loadId: string } {
  return { loadId: '', count, segmentSize, segments: Math.ceil(count / segmentSize) };
}

function segmentMessages(load: CurrentLoad, from: number, to: number): LoaderMessage[] {
  const out: LoaderMessage[] = [];
  for (let index = from; index <= to; index++) {
    const start = index * load.segmentSize + 1;
    out.push({
      kind: 'segment',
      loadId: load.loadId,
      index,
      start,
      end: Math.min(load.count, start + load.segmentSize - 1),
    });
  }
  return out;
}

/** The first messages of a load: its segments, or fan-out messages of FANOUT segments each. */
function initialMessages(load: CurrentLoad): LoaderMessage[] {
  if (load.segments <= FANOUT) return segmentMessages(load, 0, load.segments - 1);
  const out: LoaderMessage[] = [];
  for (let from = 0; from < load.segments; from += FANOUT) {
    out.push({
      kind: 'fanout',
      loadId: load.loadId,
      from,
      to: Math.min(load.segments - 1, from + FANOUT - 1),
    });
  }
  return out;
}

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

/**
 * Starts a load of 1..count: claims the loader (409 while another load makes progress) and sends the
 * load's messages. If the queue does not take them in time the load is ended at once and the error
 * (503) propagates: nothing is left claimed, so a retry really starts the load.
 */
export async function startLoad(
  input: StartLoadInput,
  now = Date.now(),
): Promise<{ loadId: string; segments: number; messages: LoaderMessage[] }> {
  const load = {
    ...plan(input.count, input.segmentSize ?? DEFAULT_SEGMENT_SIZE),
    loadId: randomBytes(6).toString('hex'),
  };
  const { biglistStallMs, redis: redisConfig } = getConfig();
  const redis = await getRedis();
  const claim = await claimLoad(
    redis,
    load.loadId,
    {
      state: 'queued',
      count: String(load.count),
      segmentSize: String(load.segmentSize),
      segments: String(load.segments),
      loaded: '0',
      createdAt: String(now),
    },
    now,
    biglistStallMs,
  );
  if (claim.status === 'busy') {
    throw new AppError(409, 'load_in_progress', `Load ${claim.other} is still running; one load at a time.`, {
      headers: { Location: `/api/biglist/loads/${claim.other}` },
    });
  }
  const messages = initialMessages(load);
  try {
    await sendMessages(BIGLIST_QUEUE, messages, redisConfig.deadlineMs || 2000);
  } catch (err) {
    // Messages sent before the failure find the load ended and are dropped by the loader.
    await endLoad(redis, load.loadId, {
      state: 'failed',
      reason: 'its messages could not be enqueued',
      now: Date.now(),
    }).catch(() => undefined);
    throw err;
  }
  await tidy(redis, silent);
  return { loadId: load.loadId, segments: load.segments, messages };
}

const iso = (ms: string | undefined) => (ms ? new Date(Number(ms)).toISOString() : null);

function toStatus(loadId: string, state: Record<string, string>, done: number, now: number): LoadStatus {
  const total = Number(state.segments);
  const loaded = Number(state.loaded ?? 0);
  const started = state.startedAt ? Number(state.startedAt) : undefined;
  const end = state.finishedAt ? Number(state.finishedAt) : now;
  const seconds = started === undefined ? 0 : (end - started) / 1000;
  return {
    loadId,
    state: state.state as LoadStatus['state'],
    count: Number(state.count),
    segmentSize: Number(state.segmentSize),
    loaded,
    segments: { total, done: state.state === 'completed' ? total : done },
    startedAt: iso(state.startedAt),
    finishedAt: iso(state.finishedAt),
    valuesPerSecond: seconds > 0 ? Math.round(loaded / seconds) : null,
    ...(state.error ? { error: state.error } : {}),
  };
}

/**
 * A load's progress; 404 when unknown (or long replaced). A load that made no progress for
 * BIGLIST_STALL_SECONDS is failed here (and its data queued for removal), so it never looks running forever.
 */
export async function getLoad(loadId: string, now = Date.now()): Promise<LoadStatus> {
  const redis = await getRedis();
  let { state, done } = await readLoad(redis, loadId);
  if (!state.state) throw new AppError(404, 'load_not_found', `Load ${loadId} does not exist.`);
  if (state.state === 'queued' || state.state === 'running') {
    const stallMs = getConfig().biglistStallMs;
    const after = await endLoad(redis, loadId, {
      state: 'failed',
      reason: stalledReason(stallMs),
      now,
      onlyIfStallMs: stallMs,
    });
    if (after === 'failed') {
      await tidy(redis, silent);
      ({ state, done } = await readLoad(redis, loadId));
    }
  }
  return toStatus(loadId, state, done, now);
}

/** Cancels a load in progress: no further segment is written, its data is removed, the published list stays. */
export async function cancelLoad(loadId: string, now = Date.now()): Promise<LoadStatus> {
  const redis = await getRedis();
  const after = await endLoad(redis, loadId, { state: 'cancelled', reason: 'cancelled', now });
  if (after === '') throw new AppError(404, 'load_not_found', `Load ${loadId} does not exist.`);
  if (after !== 'cancelled') {
    throw new AppError(
      409,
      'load_finished',
      `Load ${loadId} is already ${after}; only a load in progress can be cancelled.`,
    );
  }
  await tidy(redis, silent);
  const { state, done } = await readLoad(redis, loadId);
  return toStatus(loadId, state, done, now);
}

/** What a delivery asks the trigger to do besides succeeding: enqueue more, or dead-letter this one. */
export interface Outcome {
  enqueue: LoaderMessage[];
  poison: boolean;
}

/**
 * Handles one queue message. Writes go to a private attempt key (named after the message and delivery)
 * that is renamed into place only if complete and no other delivery committed first, so a message
 * delivered twice (even concurrently) never duplicates or loses a value; what an earlier, crashed
 * delivery of the same message left half-written is removed first. Transient failures throw for the host
 * to retry; on the last delivery the load is marked failed first (and if Redis cannot be reached then,
 * the stall rule ends it once it is back). A malformed message is dead-lettered at once, before any write.
 */
export async function processMessage(
  raw: unknown,
  delivery: Delivery,
  log: Log,
  now = () => Date.now(),
): Promise<Outcome> {
  const parsed = LoaderMessage.safeParse(raw);
  const redis = await getRedis();
  if (!parsed.success) {
    log.error(
      `biglist: malformed message dead-lettered: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
    const loadId = (raw as { loadId?: unknown } | null)?.loadId;
    if (typeof loadId === 'string' && ID_PATTERN.test(loadId))
      await abandon(redis, loadId, 'a segment message was malformed', now(), log);
    return { enqueue: [], poison: true };
  }
  const msg = parsed.data;
  const { state } = await readLoad(redis, msg.loadId);
  const load: CurrentLoad = {
    loadId: msg.loadId,
    count: Number(state.count),
    segmentSize: Number(state.segmentSize),
    segments: Number(state.segments),
  };
  if (state.state !== 'queued' && state.state !== 'running') {
    log.warn(`biglist: load ${msg.loadId} is ${state.state ?? 'unknown'}; message ignored`);
    if (state.state !== undefined && msg.kind === 'segment') {
      const finalKey = segmentKey(load.loadId, msg.index, load.segments);
      // What earlier deliveries of this message left half-written goes whatever the load's fate.
      await removeEarlierAttempts(redis, finalKey, delivery.messageId, delivery.dequeueCount + 1);
      // A delivery that committed and then crashed may have left this segment behind the clean-up.
      if (state.state !== 'completed') await removeSegment(redis, finalKey);
    }
    await tidy(redis, log);
    return { enqueue: [], poison: false };
  }
  const expected = msg.kind === 'segment' ? segmentMessages(load, msg.index, msg.index)[0] : undefined;
  const consistent =
    msg.kind === 'fanout'
      ? msg.from <= msg.to && msg.to < load.segments
      : msg.index < load.segments &&
        expected?.kind === 'segment' &&
        expected.start === msg.start &&
        expected.end === msg.end;
  if (!consistent) {
    log.error(`biglist: message does not match load ${msg.loadId}; dead-lettered`);
    await abandon(redis, msg.loadId, 'a segment message did not match its load', now(), log);
    return { enqueue: [], poison: true };
  }
  if (msg.kind === 'fanout') return { enqueue: segmentMessages(load, msg.from, msg.to), poison: false };

  const finalKey = segmentKey(load.loadId, msg.index, load.segments);
  try {
    await startSegment(redis, load.loadId, now());
    await removeEarlierAttempts(redis, finalKey, delivery.messageId, delivery.dequeueCount);
    if (await isCommitted(redis, finalKey)) {
      log.log(`biglist: segment ${msg.index} of ${load.loadId} already written (redelivery)`);
    } else {
      const token = attemptToken(delivery.messageId, delivery.dequeueCount);
      const attempt = await writeAttempt(redis, load.loadId, finalKey, token, msg.start, msg.end);
      const committed = await commitAttempt(redis, attempt, finalKey, msg.end - msg.start + 1);
      if (committed === 'incomplete') throw new Error(`segment ${msg.index} was cut short; retrying`);
      if (committed === 'duplicate') {
        log.log(
          `biglist: segment ${msg.index} of ${load.loadId} was committed by another delivery; discarded this copy`,
        );
      }
    }
    const done = await markSegmentDone(redis, load, msg.index, msg.end - msg.start + 1, now());
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

interface Cursor {
  l: string;
  p: number;
  o: 'desc' | 'asc';
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(text: string): Cursor {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const v = value as Partial<Cursor> | undefined;
  if (
    !v ||
    typeof v.l !== 'string' ||
    !ID_PATTERN.test(v.l) ||
    !Number.isSafeInteger(v.p) ||
    (v.p ?? -1) < 0 ||
    (v.o !== 'desc' && v.o !== 'asc')
  ) {
    throw new AppError(400, 'invalid_cursor', 'The cursor is not one this API issued.');
  }
  return v as Cursor;
}

/** Maps positions [from, to] counted from the newest value to segment ranges, newest first. */
function rangesFor(load: CurrentLoad, from: number, to: number): SegmentRange[] {
  const newestSize = load.count - (load.segments - 1) * load.segmentSize;
  const out: SegmentRange[] = [];
  let p = from;
  while (p <= to) {
    let index: number;
    let offset: number;
    let size: number;
    if (p < newestSize) {
      index = load.segments - 1;
      offset = p;
      size = newestSize;
    } else {
      const q = p - newestSize;
      index = load.segments - 2 - Math.floor(q / load.segmentSize);
      offset = q % load.segmentSize;
      size = load.segmentSize;
    }
    const stop = Math.min(size - 1, offset + (to - p));
    out.push({ index, start: offset, stop });
    p += stop - offset + 1;
  }
  return out;
}

/** A page of the published list in exact order (newest first by default), with a stable cursor. */
export async function readPage(
  limit: number,
  order: 'desc' | 'asc',
  cursorText?: string,
): Promise<BiglistPage> {
  const cursor = cursorText === undefined ? undefined : decodeCursor(cursorText);
  if (cursor && cursor.o !== order)
    throw new AppError(400, 'invalid_cursor', 'The cursor belongs to the other order.');
  const redis = await getRedis();
  const currentJson = await readCurrent(redis);
  if (!currentJson) {
    if (cursor)
      throw new AppError(
        410,
        'list_replaced',
        'The list this cursor belongs to is gone; start again without a cursor.',
      );
    return { values: [], nextCursor: null };
  }
  const load = CurrentLoad.parse(JSON.parse(currentJson));
  if (cursor && cursor.l !== load.loadId) {
    throw new AppError(
      410,
      'list_replaced',
      'The list was replaced by a newer load; start again without a cursor.',
    );
  }
  const offset = cursor?.p ?? 0;
  const end = Math.min(load.count, offset + limit) - 1;
  if (offset >= load.count) return { values: [], nextCursor: null };
  // Positions in the requested order map to positions from the newest value.
  const [from, to] = order === 'desc' ? [offset, end] : [load.count - 1 - end, load.count - 1 - offset];
  const chunks = await readRanges(redis, load, rangesFor(load, from, to));
  if (!chunks)
    throw new AppError(
      410,
      'list_replaced',
      'The list was replaced while reading; start again without a cursor.',
    );
  const values = chunks.flat().map(Number);
  if (order === 'asc') values.reverse();
  const next = end + 1 < load.count ? encodeCursor({ l: load.loadId, p: end + 1, o: order }) : null;
  return { values, nextCursor: next };
}
