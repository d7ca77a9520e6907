import { app, type InvocationContext, output } from '@azure/functions';

import * as loader from '../shared/biglist/loader.js';
import {
  BIGLIST_QUEUE,
  BiglistPage,
  ExportQuery,
  LoadAccepted,
  LoadPath,
  LoadStatus,
  ReadQuery,
  StartLoadInput,
} from '../shared/biglist/schema.js';
import * as biglist from '../shared/biglist/service.js';
import { replayedHeaders } from '../shared/http/idempotency.js';
import { defineRoute, json } from '../shared/http/route.js';
import { streamFlow } from '../shared/http/stream.js';
import { carrierOf, inMessageSpan, markPoisoned } from '../shared/telemetry/spans.js';

const segments = output.storageQueue({ queueName: BIGLIST_QUEUE, connection: 'AzureWebJobsStorage' });
const poison = output.storageQueue({
  queueName: `${BIGLIST_QUEUE}-poison`,
  connection: 'AzureWebJobsStorage',
});

export const startBiglistLoad = defineRoute({
  name: 'startBiglistLoad',
  method: 'POST',
  path: '/biglist/loads',
  authLevel: 'function',
  summary: 'Load 1..count into the list (queued, in segments); nothing is claimed when the queue fails',
  tag: 'biglist',
  body: StartLoadInput,
  bodyOptional: true,
  idempotency: () => 'POST loads',
  responses: { 202: { description: 'Accepted', schema: LoadAccepted, headers: ['Location'] } },
  errors: ['load_in_progress', 'queue_unavailable'],
  handler: async ({ body, idempotency }) => {
    const load = await biglist.startLoad(body, idempotency);
    return json(
      202,
      { loadId: load.loadId, segments: load.segments },
      { Location: `/api/biglist/loads/${load.loadId}`, ...replayedHeaders(load.replayed) },
    );
  },
});

export const getBiglistLoad = defineRoute({
  name: 'getBiglistLoad',
  method: 'GET',
  path: '/biglist/loads/{loadId}',
  authLevel: 'function',
  summary: "A load's progress; a load with no progress for BIGLIST_STALL_SECONDS reads (and becomes) failed",
  tag: 'biglist',
  params: LoadPath,
  responses: { 200: { description: 'Progress', schema: LoadStatus } },
  errors: ['load_not_found'],
  handler: async ({ params }) => json(200, await biglist.getLoad(params.loadId)),
});

export const cancelBiglistLoad = defineRoute({
  name: 'cancelBiglistLoad',
  method: 'DELETE',
  path: '/biglist/loads/{loadId}',
  authLevel: 'function',
  summary: 'Cancel a load in progress (its data is removed; the published list stays)',
  tag: 'biglist',
  params: LoadPath,
  responses: { 200: { description: 'Cancelled (also when it already was)', schema: LoadStatus } },
  errors: ['load_not_found', 'load_finished'],
  handler: async ({ params }) => json(200, await biglist.cancelLoad(params.loadId)),
});

export const readBiglist = defineRoute({
  name: 'readBiglist',
  method: 'GET',
  path: '/biglist',
  authLevel: 'function',
  summary: 'A page of the published list (Server B), newest first by default',
  tag: 'biglist',
  query: ReadQuery,
  responses: { 200: { description: 'A page', schema: BiglistPage } },
  errors: ['invalid_cursor', 'list_replaced'],
  handler: async ({ query }) => json(200, await biglist.readPage(query.limit, query.order, query.cursor)),
});

export const exportBiglist = defineRoute({
  name: 'exportBiglist',
  method: 'GET',
  path: '/biglist/export',
  authLevel: 'function',
  summary:
    'The whole published list as text, one value per line, streamed; cut off (never mixed) if the list is replaced meanwhile',
  tag: 'biglist',
  query: ExportQuery,
  responses: {
    200: {
      description: 'Every value of the published load, newest first (desc) or oldest first (asc)',
      headers: ['X-Biglist-Load', 'X-Biglist-Count'],
      contentType: 'text/plain',
    },
  },
  errors: ['list_not_found'],
  handler: async ({ query }, context) => {
    const flow = streamFlow(context);
    const { load, lines } = await biglist.exportList(query.order, () => flow.ready());
    return {
      status: 200,
      headers: {
        'Content-Type': 'text/plain; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Biglist-Load': load.loadId,
        'X-Biglist-Count': String(load.count),
      },
      body: ReadableStream.from(lines),
    };
  },
});

/** Queue trigger (Server A): writes one segment per message, or fans out segment messages. */
export async function loadBiglistSegment(message: unknown, context: InvocationContext): Promise<void> {
  const metadata = context.triggerMetadata ?? {};
  const delivery = {
    dequeueCount: Number(metadata.dequeueCount ?? 1),
    messageId: typeof metadata.id === 'string' ? metadata.id : undefined,
  };
  const span = {
    namespace: 'biglist',
    queue: BIGLIST_QUEUE,
    messageId: delivery.messageId ?? '',
    dequeueCount: delivery.dequeueCount,
    maxDequeueCount: loader.MAX_DEQUEUE_COUNT,
  };
  await inMessageSpan(carrierOf(message), span, context, async () => {
    const outcome = await loader.processMessage(message, delivery, context);
    if (outcome.enqueue.length > 0) context.extraOutputs.set(segments, outcome.enqueue);
    // Dead-lettered deliberately: retrying a message that can never be valid would only repeat the error.
    if (outcome.poison) {
      markPoisoned('biglist');
      // The text as it arrived (the host passes it as QueueTrigger), not the parsed value sent back out.
      const text = typeof metadata.queueTrigger === 'string' ? metadata.queueTrigger : message;
      context.extraOutputs.set(poison, [loader.deadLetter(text, outcome.reason ?? 'malformed')]);
    }
  });
}

app.storageQueue('loadBiglistSegment', {
  queueName: BIGLIST_QUEUE,
  connection: 'AzureWebJobsStorage',
  extraOutputs: [segments, poison],
  handler: loadBiglistSegment,
});
