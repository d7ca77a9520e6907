import { app, output, type InvocationContext } from '@azure/functions';
import { BIGLIST_QUEUE, ExportQuery, LoadPath, ReadQuery, StartLoadInput } from '../shared/biglist/schema.js';
import * as biglist from '../shared/biglist/service.js';
import {
  json,
  parseJsonBody,
  parsePath,
  parseQuery,
  readBodyText,
  route,
  streamFlow,
} from '../shared/http.js';
import { idempotencyKey, withIdempotency } from '../shared/idempotency/service.js';

const segments = output.storageQueue({ queueName: BIGLIST_QUEUE, connection: 'AzureWebJobsStorage' });
const poison = output.storageQueue({
  queueName: `${BIGLIST_QUEUE}-poison`,
  connection: 'AzureWebJobsStorage',
});

/** POST /api/biglist/loads: plans a load of 1..count and enqueues its segments; 202 with Location, 503 when the queue is unavailable. */
export const startBiglistLoad = route(async (request) => {
  const key = idempotencyKey(request);
  const text = await readBodyText(request);
  const input = parseJsonBody(text.trim() === '' ? '{}' : text, StartLoadInput);
  return withIdempotency('biglist-loads', key, text, async () => {
    const load = await biglist.startLoad(input);
    return json(
      202,
      { loadId: load.loadId, segments: load.segments },
      { Location: `/api/biglist/loads/${load.loadId}` },
    );
  });
});

/** GET /api/biglist/loads/{loadId}: progress of a load. */
export const getBiglistLoad = route(async (request) =>
  json(200, await biglist.getLoad(parsePath(request, LoadPath).loadId)),
);

/** DELETE /api/biglist/loads/{loadId}: cancels a load in progress; the published list stays. */
export const cancelBiglistLoad = route(async (request) =>
  json(200, await biglist.cancelLoad(parsePath(request, LoadPath).loadId)),
);

/** GET /api/biglist?limit=&cursor=&order=desc|asc (Server B): a page of the published list. */
export const readBiglist = route(async (request) => {
  const { limit, cursor, order } = parseQuery(request, ReadQuery);
  return json(200, await biglist.readPage(limit ?? 100, order, cursor));
});

/** GET /api/biglist/export?order=desc|asc (Server B): the whole published list as text, streamed. */
export const exportBiglist = route(async (request, context) => {
  const { order } = parseQuery(request, ExportQuery);
  const flow = streamFlow(context);
  const { load, lines } = await biglist.exportList(order, () => flow.ready());
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
});

/** Queue trigger (Server A): writes one segment per message, or fans out segment messages. */
export async function loadBiglistSegment(message: unknown, context: InvocationContext): Promise<void> {
  const metadata = context.triggerMetadata ?? {};
  const outcome = await biglist.processMessage(
    message,
    {
      dequeueCount: Number(metadata.dequeueCount ?? 1),
      messageId: typeof metadata.id === 'string' ? metadata.id : undefined,
    },
    context,
  );
  if (outcome.enqueue.length > 0) context.extraOutputs.set(segments, outcome.enqueue);
  // Dead-lettered deliberately: retrying a message that can never be valid would only repeat the error.
  if (outcome.poison) context.extraOutputs.set(poison, [message]);
}

app.http('startBiglistLoad', {
  route: 'biglist/loads',
  methods: ['POST'],
  authLevel: 'function',
  handler: startBiglistLoad,
});
app.http('cancelBiglistLoad', {
  route: 'biglist/loads/{loadId}',
  methods: ['DELETE'],
  authLevel: 'function',
  handler: cancelBiglistLoad,
});
app.http('getBiglistLoad', {
  route: 'biglist/loads/{loadId}',
  methods: ['GET'],
  authLevel: 'function',
  handler: getBiglistLoad,
});
app.http('readBiglist', { route: 'biglist', methods: ['GET'], authLevel: 'function', handler: readBiglist });
app.http('exportBiglist', {
  route: 'biglist/export',
  methods: ['GET'],
  authLevel: 'function',
  handler: exportBiglist,
});
app.storageQueue('loadBiglistSegment', {
  queueName: BIGLIST_QUEUE,
  connection: 'AzureWebJobsStorage',
  extraOutputs: [segments, poison],
  handler: loadBiglistSegment,
});
