import { type DequeuedMessageItem, type QueueClient, QueueServiceClient } from '@azure/storage-queue';

import { type BindingInfo, invoke, type LogSink, type RegisteredFunction, type TypedData } from './core.js';
import { messageOf } from './errors.js';
import type { HostSettings } from './hostConfig.js';

/** Options for running queue triggers and queue output bindings. */
export interface QueueOptions {
  settings: HostSettings['queues'];
  env: NodeJS.ProcessEnv;
  log: LogSink;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// The host hides a message for 10 minutes while a function works on it.
const PROCESSING_VISIBILITY_S = 600;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function bindingText(binding: BindingInfo, key: string): string {
  const v = binding[key];
  return typeof v === 'string' ? v : '';
}

/** Storage queues for the app's queue bindings, resolved from the settings their `connection` names. */
export class QueueBindings {
  readonly #clients = new Map<string, QueueClient>();
  readonly #created = new Set<string>();
  readonly #listeners: Array<Promise<void>> = [];
  #stopping = false;
  #wake: Array<() => void> = [];

  constructor(private readonly options: QueueOptions) {}

  /** The queue client for a binding's connection setting and queue name. */
  client(connection: string, queueName: string): QueueClient {
    const setting = connection || 'AzureWebJobsStorage';
    const key = `${setting}\n${queueName}`;
    let client = this.#clients.get(key);
    if (!client) {
      const value = this.options.env[setting] ?? this.options.env[`AzureWebJobs${setting}`];
      if (!value) {
        throw new Error(
          `queue binding: setting "${setting}" is not set; the local runner needs a connection string (e.g. UseDevelopmentStorage=true)`,
        );
      }
      // Short SDK retries: the listener loop retries by itself, and a send should fail within seconds.
      client = QueueServiceClient.fromConnectionString(value, {
        retryOptions: { maxTries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 1000 },
      }).getQueueClient(queueName);
      this.#clients.set(key, client);
    }
    return client;
  }

  async #ensure(client: QueueClient): Promise<void> {
    if (this.#created.has(client.url)) return;
    await client.createIfNotExists();
    this.#created.add(client.url);
  }

  #encode(text: string): string {
    return this.options.settings.messageEncoding === 'base64'
      ? Buffer.from(text, 'utf8').toString('base64')
      : text;
  }

  /** Sends each queue output of a finished invocation; an array becomes one message per item. */
  async sendOutputs(
    fn: RegisteredFunction,
    outputs: Array<{ name?: string | null; data?: TypedData | null }>,
  ): Promise<void> {
    for (const out of outputs) {
      const binding: BindingInfo | undefined = out.name ? fn.metadata.bindings[out.name] : undefined;
      if (!binding || binding.type !== 'queue' || !out.data) continue;
      const client = this.client(bindingText(binding, 'connection'), bindingText(binding, 'queueName'));
      await this.#ensure(client);
      const messages = outputMessages(out.data);
      // Bounded parallelism: thousands of messages go out quickly without thousands of sockets.
      for (let i = 0; i < messages.length; i += 32) {
        await Promise.all(messages.slice(i, i + 32).map((m) => client.sendMessage(this.#encode(m))));
      }
    }
  }

  /**
   * Starts polling the queue of every `queueTrigger` function. As the host does, a listener whose storage
   * is unreachable keeps retrying (with backoff) instead of giving up, and re-creates its queue when it
   * disappears; the HTTP functions are served meanwhile.
   */
  start(fns: RegisteredFunction[]): void {
    for (const fn of fns) {
      const entry = Object.entries(fn.metadata.bindings).find(([, b]) => b.type === 'queueTrigger');
      if (!entry) continue;
      const [bindingName, binding] = entry;
      const queueName = bindingText(binding, 'queueName');
      let client: QueueClient;
      let poison: QueueClient;
      try {
        client = this.client(bindingText(binding, 'connection'), queueName);
        poison = this.client(bindingText(binding, 'connection'), `${queueName}-poison`);
      } catch (err) {
        // A missing setting cannot fix itself: this trigger is off, and the log says why.
        this.options.log('error', `${fn.metadata.name}: queue trigger disabled: ${messageOf(err)}`);
        continue;
      }
      this.#listeners.push(this.#listen(fn, bindingName, client, poison));
      this.options.log('information', `${fn.metadata.name}: listening on queue "${queueName}"`);
    }
  }

  /** Stops polling and waits for running invocations to finish. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const w of this.#wake.splice(0)) w();
    await Promise.all(this.#listeners);
  }

  async #listen(
    fn: RegisteredFunction,
    bindingName: string,
    client: QueueClient,
    poison: QueueClient,
  ): Promise<void> {
    const { batchSize, newBatchThreshold, maxPollingIntervalMs } = this.options.settings;
    const running = new Set<Promise<void>>();
    let delay = 100;
    let failing = false;
    while (!this.#stopping) {
      // As the host: fetch a new batch only once the running count has fallen to newBatchThreshold.
      if (running.size > newBatchThreshold) {
        await new Promise<void>((r) => this.#wake.push(r));
        continue;
      }
      let items: DequeuedMessageItem[];
      try {
        await this.#ensure(client);
        items = (
          await client.receiveMessages({
            numberOfMessages: batchSize,
            visibilityTimeout: PROCESSING_VISIBILITY_S,
          })
        ).receivedMessageItems;
        if (failing) this.options.log('information', `${fn.metadata.name}: polling works again`);
        failing = false;
      } catch (err) {
        // Storage down, or the queue deleted: keep trying, and create the queue again when it is back.
        if ((err as { statusCode?: number }).statusCode === 404) this.#created.delete(client.url);
        if (!failing) this.options.log('warning', `${fn.metadata.name}: polling failed: ${String(err)}`);
        failing = true;
        items = [];
      }
      if (items.length === 0) {
        await this.#sleepUnlessStopped(delay);
        delay = Math.min(delay * 2, Math.max(maxPollingIntervalMs, failing ? 2000 : 0));
        continue;
      }
      delay = 100;
      for (const item of items) {
        const p = this.#process(fn, bindingName, client, poison, item).finally(() => {
          running.delete(p);
          for (const w of this.#wake.splice(0)) w();
        });
        running.add(p);
      }
    }
    await Promise.allSettled(running);
  }

  async #sleepUnlessStopped(ms: number): Promise<void> {
    await Promise.race([sleep(ms), new Promise<void>((r) => this.#wake.push(r))]);
  }

  async #toPoison(client: QueueClient, poison: QueueClient, item: DequeuedMessageItem): Promise<void> {
    await this.#ensure(poison);
    await poison.sendMessage(item.messageText);
    await client.deleteMessage(item.messageId, item.popReceipt);
  }

  async #process(
    fn: RegisteredFunction,
    bindingName: string,
    client: QueueClient,
    poison: QueueClient,
    item: DequeuedMessageItem,
  ): Promise<void> {
    const name = fn.metadata.name;
    const { messageEncoding, maxDequeueCount, visibilityTimeoutMs } = this.options.settings;
    let text = item.messageText;
    if (messageEncoding === 'base64') {
      if (!BASE64.test(text)) {
        // The host cannot decode it, so it never reaches the function: it goes straight to poison.
        this.options.log(
          'warning',
          `${name}: message ${item.messageId} is not valid base64; moved to ${poison.name}`,
        );
        await this.#toPoison(client, poison, item);
        return;
      }
      text = Buffer.from(text, 'base64').toString('utf8');
    }
    const metadata: Record<string, unknown> = {
      Id: item.messageId,
      DequeueCount: item.dequeueCount,
      InsertionTime: item.insertedOn.toISOString(),
      ExpirationTime: item.expiresOn.toISOString(),
      NextVisibleTime: item.nextVisibleOn.toISOString(),
      PopReceipt: item.popReceipt,
      QueueTrigger: text,
    };
    const triggerMetadata: Record<string, TypedData> = {};
    for (const [k, v] of Object.entries(metadata)) triggerMetadata[k] = { json: JSON.stringify(v) };
    const started = Date.now();
    const took = () => `${Date.now() - started} ms`;
    const what = `${name}: message ${item.messageId} (dequeue count ${item.dequeueCount})`;
    try {
      const response = await invoke(fn, {
        inputData: [{ name: bindingName, data: { string: text } }],
        triggerMetadata,
      });
      await this.sendOutputs(fn, response.outputData ?? []);
      await client.deleteMessage(item.messageId, item.popReceipt);
      this.options.log('information', `${what} succeeded (${took()})`);
    } catch (err) {
      const detail = messageOf(err);
      this.options.log('information', `${what} failed (${took()})`);
      if (item.dequeueCount >= maxDequeueCount) {
        this.options.log(
          'error',
          `${name}: message ${item.messageId} failed ${item.dequeueCount} times (${detail}); moved to ${poison.name}`,
        );
        await this.#toPoison(client, poison, item).catch((e: unknown) => {
          this.options.log('error', `${name}: moving ${item.messageId} to poison failed: ${String(e)}`);
        });
      } else {
        this.options.log(
          'warning',
          `${name}: message ${item.messageId} failed (attempt ${item.dequeueCount}): ${detail}`,
        );
        await client
          .updateMessage(item.messageId, item.popReceipt, undefined, Math.round(visibilityTimeoutMs / 1000))
          .catch((e: unknown) => {
            this.options.log('warning', `${name}: releasing ${item.messageId} failed: ${String(e)}`);
          });
      }
    }
  }
}

/** The message texts an output binding value stands for: arrays become one message per item. */
export function outputMessages(data: TypedData): string[] {
  const asText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
  if (typeof data.json === 'string') {
    const value: unknown = JSON.parse(data.json);
    return Array.isArray(value) ? value.map(asText) : [data.json];
  }
  if (typeof data.string === 'string') return [data.string];
  if (data.bytes) return [Buffer.from(data.bytes).toString('utf8')];
  if (data.collectionString?.string) return data.collectionString.string;
  if (data.collectionBytes?.bytes)
    return data.collectionBytes.bytes.map((b) => Buffer.from(b).toString('utf8'));
  if (typeof data.int === 'number' || typeof data.double === 'number')
    return [String(data.int ?? data.double)];
  return [];
}
