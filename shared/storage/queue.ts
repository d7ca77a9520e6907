// Sends Storage queue messages from the app itself (not through an output binding), so that a failed send
// is seen by the function and answered honestly instead of after the function has already "succeeded".
import { ManagedIdentityCredential } from '@azure/identity';
import { type QueueClient, QueueServiceClient } from '@azure/storage-queue';

import { ConfigError, getConfig } from '../config.js';
import { ensureError, QueueUnavailableError } from '../errors.js';

// Messages sent at once: thousands go out quickly without thousands of sockets.
const PARALLEL_SENDS = 32;

let service: QueueServiceClient | undefined;
const clients = new Map<string, QueueClient>();

function serviceClient(): QueueServiceClient {
  if (service) return service;
  const storage = getConfig().storage;
  // Retries stay inside the caller's deadline: a quick second try, never the SDK's minute of backoff.
  const retryOptions = { maxTries: 2, retryDelayInMs: 100, maxRetryDelayInMs: 200 };
  switch (storage.mode) {
    case 'connectionString':
      try {
        service = QueueServiceClient.fromConnectionString(storage.connectionString, { retryOptions });
      } catch (err) {
        throw new ConfigError(
          `Invalid configuration: AzureWebJobsStorage: not a storage connection string (${ensureError(err).message})`,
        );
      }
      break;
    case 'identity':
      service = new QueueServiceClient(
        storage.queueServiceUri,
        new ManagedIdentityCredential(storage.clientId ? { clientId: storage.clientId } : {}),
        { retryOptions },
      );
      break;
    case 'none':
      throw new ConfigError(
        'Invalid configuration: AzureWebJobsStorage: set a connection string, or AzureWebJobsStorage__queueServiceUri for a managed identity',
      );
  }
  return service;
}

function queue(name: string): QueueClient {
  let client = clients.get(name);
  if (!client) {
    client = serviceClient().getQueueClient(name);
    clients.set(name, client);
  }
  return client;
}

/**
 * Sends each message (JSON, base64 as the queue trigger's default `messageEncoding` expects) to `queueName`;
 * all or QueueUnavailableError within `deadlineMs`. Messages sent before a failure stay sent.
 */
export async function sendMessages(
  queueName: string,
  messages: unknown[],
  deadlineMs: number,
): Promise<void> {
  const client = queue(queueName);
  const abortSignal = AbortSignal.timeout(deadlineMs);
  try {
    for (let i = 0; i < messages.length; i += PARALLEL_SENDS) {
      await Promise.all(
        messages
          .slice(i, i + PARALLEL_SENDS)
          .map((m) => client.sendMessage(Buffer.from(JSON.stringify(m)).toString('base64'), { abortSignal })),
      );
    }
  } catch (err) {
    throw new QueueUnavailableError(
      `Storage queue ${queueName} did not take ${messages.length} messages within ${deadlineMs} ms: ${ensureError(err).message}`,
      { cause: err },
    );
  }
}
