// Flow control for streamed responses.
import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { InvocationContext } from '@azure/functions';

/** Pacing for a streamed response body: wait until the receiver can take more; fails once it has gone. */
export interface StreamFlow {
  ready(): Promise<void>;
}

/** The receiver of a streamed response went away before the body was complete. */
export class ReceiverGoneError extends Error {
  override name = 'ReceiverGoneError';
}

// In HTTP streaming mode the worker answers on its own HTTP server, one request per invocation, marked
// with this header. @azure/functions writes a streamed body there without waiting for 'drain' and without
// noticing a closed connection (Azure/azure-functions-nodejs-library#294); Node's diagnostics channel hands
// us that response, so a producer can wait for it to drain and stop when it closes.
const INVOCATION_HEADER = 'x-ms-invocation-id';
const streamed = new Map<string, ServerResponse>();
subscribe('http.server.request.start', (message) => {
  const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
  const id = request.headers[INVOCATION_HEADER];
  if (typeof id !== 'string') return;
  streamed.set(id, response);
  response.once('close', () => streamed.delete(id));
});

/**
 * The flow control of an invocation's streamed response: `ready()` resolves at once while the connection
 * to the host takes data, waits for it to drain when its buffer is full, and rejects with ReceiverGoneError
 * once it has closed. Outside HTTP streaming (no such response) it never waits.
 */
export function streamFlow(context: InvocationContext): StreamFlow {
  const response = streamed.get(context.invocationId);
  const gone = () => response !== undefined && (response.destroyed || response.closed);
  return {
    ready: async () => {
      if (!response) return;
      if (gone()) throw new ReceiverGoneError('the receiver closed the connection');
      if (!response.writableNeedDrain) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          response.off('drain', done);
          response.off('close', done);
          resolve();
        };
        response.once('drain', done);
        response.once('close', done);
      });
      if (gone()) throw new ReceiverGoneError('the receiver closed the connection');
    },
  };
}
