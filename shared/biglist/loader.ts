// Server A: what one queue message does. A fan-out message becomes segment messages; a segment message
// writes its segment exactly once (segmentStore.ts) and records it, and the last one publishes the load.
import { ensureError } from '../errors.js';
import { ID_PATTERN } from '../ids.js';
import { getRedis } from '../redis/client.js';
import type { Redis } from '../redis/connect.js';
import { traceCarrier } from '../telemetry/spans.js';
import { counter } from '../telemetry/tracer.js';
import { belongsTo, planLoad, type SegmentMessage, segmentMessages } from './plan.js';
import { type CurrentLoad, LoaderMessage } from './schema.js';
import { attemptToken, type Log, removeEarlierAttempts, writeSegment } from './segmentStore.js';
import { tidy } from './service.js';
import {
  endLoad,
  type LoadRecord,
  markSegmentDone,
  readLoad,
  removeAttempts,
  removeSegment,
  segmentKey,
  startSegment,
} from './store.js';

/** host.json `extensions.queues.maxDequeueCount`: the delivery after which a failing message is poison. */
export const MAX_DEQUEUE_COUNT = 5;

/** Which delivery of a queue message this is. */
export interface Delivery {
  /** 1 for the first delivery. */
  dequeueCount: number;
  /** The queue message id (the same for every delivery of one message), when the trigger gives it. */
  messageId?: string;
}

/** What a delivery asks the trigger to do besides succeeding: enqueue more, or dead-letter this one (and why). */
export interface Outcome {
  enqueue: LoaderMessage[];
  poison: boolean;
  reason?: string;
}

const valuesWritten = counter('biglist.values.written', {
  unit: '{value}',
  description: 'Values committed to Redis by the loader',
});
const segmentsDone = counter('biglist.segments.done', {
  unit: '{segment}',
  description: 'Segments committed, by write path',
});

const done: Outcome = { enqueue: [], poison: false };
const poisoned = (reason: string): Outcome => ({ enqueue: [], poison: true, reason });

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
  if (!parsed.success) return refuseMalformed(raw, parsed.error.issues, log, now());
  const msg = parsed.data;
  const redis = await getRedis();
  const { record } = await readLoad(redis, msg.loadId);
  if (!record || (record.state !== 'queued' && record.state !== 'running')) {
    await ignoreForEndedLoad(redis, msg, record, delivery, log);
    return done;
  }
  const load = planLoad(msg.loadId, record.count, record.segmentSize);
  if (!belongsTo(load, msg)) {
    log.error(`biglist: message does not match load ${msg.loadId}; dead-lettered`);
    await abandon(redis, msg.loadId, 'a segment message did not match its load', now(), log);
    return poisoned(`does not match load ${msg.loadId}`);
  }
  if (msg.kind === 'fanout') {
    const carrier = traceCarrier();
    return { ...done, enqueue: segmentMessages(load, msg.from, msg.to).map((m) => ({ ...m, ...carrier })) };
  }
  try {
    await loadSegment(redis, load, msg, delivery, log, now);
    return done;
  } catch (err) {
    if (delivery.dequeueCount >= MAX_DEQUEUE_COUNT)
      await failOnLastDelivery(redis, load, msg, delivery, log, now());
    throw err;
  }
}

/** A message that can never succeed: dead-lettered, and the load it names (if any) failed. */
async function refuseMalformed(
  raw: unknown,
  issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>,
  log: Log,
  now: number,
): Promise<Outcome> {
  // The first few issues only: a message of thousands of bad values must not become a log line as big.
  const reason = `malformed: ${issues
    .slice(0, 3)
    .map((i) => `${i.path.slice(0, 5).map(String).join('.')}: ${i.message}`)
    .join('; ')}${issues.length > 3 ? ` (and ${issues.length - 3} more)` : ''}`;
  log.error(`biglist: message dead-lettered: ${reason}`);
  const loadId = Array.isArray(raw) ? undefined : (raw as { loadId?: unknown } | null)?.loadId;
  if (typeof loadId === 'string' && ID_PATTERN.test(loadId)) {
    await abandon(await getRedis(), loadId, 'a segment message was malformed', now, log);
  }
  return poisoned(reason);
}

/** A message for a load that ended (or is unknown): nothing is written, and what deliveries left goes. */
async function ignoreForEndedLoad(
  redis: Redis,
  msg: LoaderMessage,
  record: LoadRecord | undefined,
  delivery: Delivery,
  log: Log,
): Promise<void> {
  log.warn(`biglist: load ${msg.loadId} is ${record?.state ?? 'unknown'}; message ignored`);
  if (record && msg.kind === 'segment') {
    const finalKey = segmentKey(msg.loadId, msg.index, record.segments);
    // What earlier deliveries of this message left half-written goes whatever the load's fate.
    await removeEarlierAttempts(redis, finalKey, delivery.messageId, delivery.dequeueCount + 1);
    // A delivery that committed and then crashed may have left this segment behind the clean-up.
    if (record.state !== 'completed') await removeSegment(redis, finalKey);
  }
  await tidy(redis, log);
}

/** Writes one segment of a load in progress and records it; the last one publishes the load. */
async function loadSegment(
  redis: Redis,
  load: CurrentLoad,
  msg: SegmentMessage,
  delivery: Delivery,
  log: Log,
  now: () => number,
): Promise<void> {
  const finalKey = segmentKey(load.loadId, msg.index, load.segments);
  const size = msg.end - msg.start + 1;
  await startSegment(redis, load.loadId, now());
  await removeEarlierAttempts(redis, finalKey, delivery.messageId, delivery.dequeueCount);
  const token = attemptToken(delivery.messageId, delivery.dequeueCount);
  const written = await writeSegment(
    redis,
    { loadId: load.loadId, finalKey, token, start: msg.start, end: msg.end },
    log,
  );
  if (written.result === 'redelivered') {
    log.log(`biglist: segment ${msg.index} of ${load.loadId} already written (redelivery)`);
  } else if (written.result === 'duplicate') {
    log.log(
      `biglist: segment ${msg.index} of ${load.loadId} was committed by another delivery; discarded this copy`,
    );
  }
  const path = written.path;
  const recorded = await markSegmentDone(redis, load, { index: msg.index, size, path }, now());
  valuesWritten().add(size, { 'biglist.write_path': path });
  segmentsDone().add(1, { 'biglist.write_path': path });
  const newest = msg.index === load.segments - 1;
  if (recorded.status === 'ended' && (recorded.state !== 'completed' || newest)) {
    // The load ended while this delivery was writing: what it committed is an orphan that the
    // clean-up may already have passed.
    await removeSegment(redis, finalKey);
  }
  if (recorded.status === 'published') {
    log.log(`biglist: load ${load.loadId} published (${load.count} values in ${load.segments} segments)`);
    // Copies left by crashed or duplicate deliveries are garbage now; the TTL is only the backstop.
    await removeAttempts(redis, load.loadId).catch((e: unknown) => {
      log.warn(`biglist: removing attempt copies of ${load.loadId} deferred: ${ensureError(e).message}`);
    });
  }
  if (recorded.status !== 'pending') await tidy(redis, log);
}

/** The last delivery of a segment failed: the load is failed with it. */
async function failOnLastDelivery(
  redis: Redis,
  load: CurrentLoad,
  msg: SegmentMessage,
  delivery: Delivery,
  log: Log,
  now: number,
): Promise<void> {
  const reason = `segment ${msg.index} failed ${delivery.dequeueCount} times`;
  await endLoad(redis, load.loadId, { state: 'failed', reason, now }).catch((e: unknown) => {
    // Not dropped: with no segment finishing, the stall rule fails the load once Redis answers.
    log.error(`biglist: could not mark load ${load.loadId} failed: ${ensureError(e).message}`);
  });
}

/** Marks a load failed, frees the loader and drops what its segments wrote so far. */
async function abandon(redis: Redis, loadId: string, reason: string, now: number, log: Log): Promise<void> {
  await endLoad(redis, loadId, { state: 'failed', reason, now });
  // Deliveries still writing clean up after themselves when they find the load failed.
  await tidy(redis, log);
}
