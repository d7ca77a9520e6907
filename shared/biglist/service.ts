import { randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import { ID_PATTERN } from '../ids.js';
import { getRedis } from '../redis/client.js';
import {
  BiglistPage,
  CurrentLoad,
  DEFAULT_SEGMENT_SIZE,
  LoaderMessage,
  type LoadStatus,
  type StartLoadInput,
} from './schema.js';
import {
  claimLoad,
  commitAttempt,
  failLoad,
  isCommitted,
  markSegmentDone,
  readCurrent,
  readLoad,
  readRanges,
  removeLoadData,
  removeSegment,
  segmentKey,
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

/** Starts a load of 1..count; 409 while another load runs. Returns the messages to enqueue. */
export async function startLoad(
  input: StartLoadInput,
  now = Date.now(),
): Promise<{ loadId: string; segments: number; messages: LoaderMessage[] }> {
  const load = {
    ...plan(input.count, input.segmentSize ?? DEFAULT_SEGMENT_SIZE),
    loadId: randomBytes(6).toString('hex'),
  };
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
  );
  if (claim.status === 'busy') {
    throw new AppError(409, 'load_in_progress', `Load ${claim.other} is still running; one load at a time.`, {
      headers: { Location: `/api/biglist/loads/${claim.other}` },
    });
  }
  if (claim.other) await removeFailed(claim.other);
  return { loadId: load.loadId, segments: load.segments, messages: initialMessages(load) };
}

const iso = (ms: string | undefined) => (ms ? new Date(Number(ms)).toISOString() : null);

/** A load's progress; 404 when unknown (or long replaced). */
export async function getLoad(loadId: string, now = Date.now()): Promise<LoadStatus> {
  const { state, done } = await readLoad(await getRedis(), loadId);
  if (!state.state) throw new AppError(404, 'load_not_found', `Load ${loadId} does not exist.`);
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

/** What a delivery asks the trigger to do besides succeeding: enqueue more, or dead-letter this one. */
export interface Outcome {
  enqueue: LoaderMessage[];
  poison: boolean;
}

/**
 * Handles one queue message. Writes go to a private attempt key that is renamed into place only if no
 * other delivery committed first, so a message delivered twice (even concurrently) never duplicates or
 * loses a value. Transient failures throw for the host to retry; on the last delivery the load is
 * marked failed first. A malformed message is dead-lettered at once, before any write.
 */
export async function processMessage(
  raw: unknown,
  dequeueCount: number,
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
      await abandon(loadId, 'a segment message was malformed', now());
    return { enqueue: [], poison: true };
  }
  const msg = parsed.data;
  const { state } = await readLoad(redis, msg.loadId);
  if (!state.state || state.state === 'completed' || state.state === 'failed') {
    log.warn(`biglist: load ${msg.loadId} is ${state.state ?? 'unknown'}; message ignored`);
    return { enqueue: [], poison: false };
  }
  const load: CurrentLoad = {
    loadId: msg.loadId,
    count: Number(state.count),
    segmentSize: Number(state.segmentSize),
    segments: Number(state.segments),
  };
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
    await abandon(msg.loadId, 'a segment message did not match its load', now());
    return { enqueue: [], poison: true };
  }
  if (msg.kind === 'fanout') return { enqueue: segmentMessages(load, msg.from, msg.to), poison: false };

  try {
    await startSegment(redis, load.loadId, now());
    const finalKey = segmentKey(load.loadId, msg.index, load.segments);
    if (await isCommitted(redis, finalKey)) {
      log.log(`biglist: segment ${msg.index} of ${load.loadId} already written (redelivery)`);
    } else {
      const attempt = await writeAttempt(redis, finalKey, msg.start, msg.end);
      if ((await commitAttempt(redis, attempt, finalKey)) === 'duplicate') {
        log.log(
          `biglist: segment ${msg.index} of ${load.loadId} was committed by another delivery; discarded this copy`,
        );
      }
    }
    const done = await markSegmentDone(redis, load, msg.index, msg.end - msg.start + 1, now());
    const newest = msg.index === load.segments - 1;
    if (done.status === 'failed' || done.status === 'unknown' || (done.status === 'completed' && newest)) {
      // The load failed (or finished) while this delivery was writing: what it committed is an orphan
      // that the clean-up at the next load's start may already have missed.
      await removeSegment(redis, finalKey);
    }
    if (done.status === 'published') {
      log.log(`biglist: load ${load.loadId} published (${load.count} values in ${load.segments} segments)`);
      await removeReplaced(done.previous, log);
    }
    return { enqueue: [], poison: false };
  } catch (err) {
    if (dequeueCount >= MAX_DEQUEUE_COUNT) {
      await failLoad(redis, load.loadId, `segment ${msg.index} failed ${dequeueCount} times`, now()).catch(
        () => undefined,
      );
    }
    throw err;
  }
}

/** Marks a load failed, frees the loader and drops what its segments wrote so far. */
async function abandon(loadId: string, reason: string, now: number): Promise<void> {
  await failLoad(await getRedis(), loadId, reason, now);
  // Deliveries still writing clean up after themselves when they find the load failed.
  await removeFailed(loadId);
}

/** Drops the data a failed (never published) load left behind. */
async function removeFailed(loadId: string): Promise<void> {
  const redis = await getRedis();
  const { state } = await readLoad(redis, loadId);
  if (state.state === 'failed') await removeLoadData(redis, loadId, Number(state.segments), false);
}

async function removeReplaced(previousJson: string, log: Log): Promise<void> {
  if (!previousJson) return;
  const previous = CurrentLoad.safeParse(JSON.parse(previousJson));
  if (!previous.success) return;
  try {
    await removeLoadData(await getRedis(), previous.data.loadId, previous.data.segments, true);
  } catch (err) {
    // The new list is already published; leftovers of the old one cost memory, not correctness.
    log.warn(`biglist: removing replaced load ${previous.data.loadId} failed: ${String(err)}`);
  }
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
