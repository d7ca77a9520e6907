import { z } from 'zod';

import { Id } from '../ids.js';
import { wholeNumber } from '../params.js';

/** Storage queue of the loader's messages (infra/main.bicep creates it and its poison queue). */
export const BIGLIST_QUEUE = 'biglist-segments';
/** Segment size used when a load does not name one; chosen by `npm run bench:biglist`. */
export const DEFAULT_SEGMENT_SIZE = 1_000_000;
/** Most values a page may hold. */
export const MAX_PAGE = 10_000;

/** Body of POST /biglist/loads. */
export const StartLoadInput = z.strictObject({
  count: z.int().min(1).max(1_000_000_000).default(10_000),
  segmentSize: z.int().min(1_000).max(1_000_000).optional(),
});
/** Body of POST /biglist/loads (type). */
export type StartLoadInput = z.infer<typeof StartLoadInput>;

/** Route parameters naming a load. */
export const LoadPath = z.object({ loadId: Id });

/** Query of GET /biglist. */
export const ReadQuery = z.strictObject({
  limit: wholeNumber(1, MAX_PAGE).default(100),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,200}$/, { error: 'is not a cursor from this API' })
    .optional(),
  order: z.enum(['desc', 'asc']).default('desc'),
});

// W3C trace context of the request that started the load, so its segments join its trace.
const traced = {
  traceparent: z
    .string()
    .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)
    .optional(),
  tracestate: z.string().max(512).optional(),
};

/** One queue message: write one segment, or fan out a range of segment messages. */
export const LoaderMessage = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('segment'),
    loadId: Id,
    index: z.int().min(0),
    start: z.int().min(1),
    end: z.int().min(1),
    ...traced,
  }),
  z.strictObject({
    kind: z.literal('fanout'),
    loadId: Id,
    from: z.int().min(0),
    to: z.int().min(0),
    ...traced,
  }),
]);
/** One queue message (type). */
export type LoaderMessage = z.infer<typeof LoaderMessage>;

/** Query of GET /biglist/export. */
export const ExportQuery = z.strictObject({ order: z.enum(['desc', 'asc']).default('desc') });

/** The states a load goes through. */
export const LoadState = z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']);
/** A load's state (type). */
export type LoadState = z.infer<typeof LoadState>;

/** How a segment was written: RESTORE of a serialized list, or pipelined variadic LPUSH. */
export const WritePath = z.enum(['restore', 'lpush']);
/** How a segment was written (type). */
export type WritePath = z.infer<typeof WritePath>;

/** A load's progress as the API reports it. */
export const LoadStatus = z.object({
  loadId: Id,
  state: LoadState,
  count: z.int(),
  segmentSize: z.int(),
  loaded: z.int(),
  segments: z.object({ total: z.int(), done: z.int() }),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  valuesPerSecond: z.number().nullable(),
  /** Segments written by each path so far. */
  writePath: z.object({ restore: z.int(), lpush: z.int() }),
  error: z.string().optional(),
});
/** A load's progress (type). */
export type LoadStatus = z.infer<typeof LoadStatus>;

/** The answer of POST /biglist/loads. */
export const LoadAccepted = z.object({ loadId: Id, segments: z.int() });

/** A page of the list. */
export const BiglistPage = z.object({ values: z.array(z.int()), nextCursor: z.string().nullable() });
/** A page of the list (type). */
export type BiglistPage = z.infer<typeof BiglistPage>;

/** The published load, as kept in `{biglist}:current`. */
export const CurrentLoad = z.object({ loadId: Id, count: z.int(), segmentSize: z.int(), segments: z.int() });
/** The published load (type). */
export type CurrentLoad = z.infer<typeof CurrentLoad>;
