// The biglist's arithmetic, free of Redis and HTTP: how a load splits into segments and messages, where a
// position of the list lives, and what a cursor says.
import { z } from 'zod';

import { decodeCursor, encodeCursor } from '../cursor.js';
import { Id } from '../ids.js';
import { CurrentLoad, type LoaderMessage } from './schema.js';

/** Segment messages one fan-out message expands into (bounds each invocation's output). */
export const FANOUT = 1000;

/** A segment message. */
export type SegmentMessage = Extract<LoaderMessage, { kind: 'segment' }>;

/** The shape of a load of 1..count in segments of `segmentSize` (the newest one possibly shorter). */
export function planLoad(loadId: string, count: number, segmentSize: number): CurrentLoad {
  return { loadId, count, segmentSize, segments: Math.ceil(count / segmentSize) };
}

/** The message for segment `index`: values start..end, ascending. */
export function segmentMessage(load: CurrentLoad, index: number): SegmentMessage {
  const start = index * load.segmentSize + 1;
  return {
    kind: 'segment',
    loadId: load.loadId,
    index,
    start,
    end: Math.min(load.count, start + load.segmentSize - 1),
  };
}

/** Segment messages for segments from..to. */
export function segmentMessages(load: CurrentLoad, from: number, to: number): SegmentMessage[] {
  const out: SegmentMessage[] = [];
  for (let index = from; index <= to; index++) out.push(segmentMessage(load, index));
  return out;
}

/** The first messages of a load: its segments, or fan-out messages of FANOUT segments each. */
export function initialMessages(load: CurrentLoad): LoaderMessage[] {
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

/** True when a message could have been sent for this load (nothing else is ever written). */
export function belongsTo(load: CurrentLoad, msg: LoaderMessage): boolean {
  if (msg.kind === 'fanout') return msg.from <= msg.to && msg.to < load.segments;
  if (msg.index >= load.segments) return false;
  const expected = segmentMessage(load, msg.index);
  return expected.start === msg.start && expected.end === msg.end;
}

/** One range of one segment to read, in head-first (descending) index space. */
export interface SegmentRange {
  index: number;
  start: number;
  stop: number;
}

/** Maps positions [from, to] counted from the newest value to segment ranges, newest first. */
export function rangesFor(load: CurrentLoad, from: number, to: number): SegmentRange[] {
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

/** Where a page reads: positions [from, to] from the newest value, and the last position in page order. */
export function pageWindow(
  load: CurrentLoad,
  order: 'desc' | 'asc',
  offset: number,
  limit: number,
): { from: number; to: number; end: number } | undefined {
  if (offset >= load.count) return undefined;
  const end = Math.min(load.count, offset + limit) - 1;
  const [from, to] = order === 'desc' ? [offset, end] : [load.count - 1 - end, load.count - 1 - offset];
  return { from, to, end };
}

/** Segment indexes in the order an export visits them. */
export function exportOrder(load: CurrentLoad, order: 'desc' | 'asc'): number[] {
  const all = Array.from({ length: load.segments }, (_, i) => i);
  return order === 'desc' ? all.reverse() : all;
}

/** A page cursor: which load, which position in page order, which order. */
export interface Cursor {
  loadId: string;
  position: number;
  order: 'desc' | 'asc';
}

const CursorFields = z.strictObject({ l: Id, p: z.int().min(0), o: z.enum(['desc', 'asc']) });

/** An opaque cursor for the client. */
export function pageCursor(c: Cursor): string {
  return encodeCursor({ l: c.loadId, p: c.position, o: c.order });
}

/** The cursor a string stands for, or undefined when it is not one this API issued. */
export function readPageCursor(text: string): Cursor | undefined {
  const c = decodeCursor(text, CursorFields);
  return c && { loadId: c.l, position: c.p, order: c.o };
}

/** The published-load record as stored in `{biglist}:current`, or undefined when absent or unreadable. */
export function parseCurrent(json: string | null | undefined): CurrentLoad | undefined {
  if (!json) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  const parsed = CurrentLoad.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
