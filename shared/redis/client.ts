// The worker's clients: connected on first use, shared, replaced when they stop answering, and never
// waited for longer than REDIS_DEADLINE_MS. How one connection is made is connect.ts.
import { getConfig } from '../config.js';
import { counter } from '../telemetry/tracer.js';
import { connectRedis, consoleLogger, pingAll, type Redis } from './connect.js';
import { Watchdog, type Watched } from './watchdog.js';

const deadlineExceeded = counter('redis.client.deadline_exceeded', {
  unit: '{connection}',
  description: 'Connections the Redis deadline watchdog destroyed',
});

/**
 * A client connected on first use and shared by every caller of the worker; a failed connect is retried
 * by the next call; a client that stops answering is replaced. No caller waits for it longer than
 * REDIS_DEADLINE_MS.
 */
export class LazyClient {
  // Each client has its own deadline clock: a watchdog probes one client.
  #watchdog: Watchdog | undefined | null;
  #shared: Promise<Redis> | undefined;
  // Set once `shared` has connected: the hot path then returns it without any bookkeeping.
  #connected: { redis: Redis; watched: Watched | undefined } | undefined;

  constructor(private readonly connect: () => Promise<Redis>) {}

  #dog(): Watchdog | undefined {
    if (this.#watchdog === undefined) {
      const ms = getConfig().redis.deadlineMs;
      this.#watchdog = ms > 0 ? new Watchdog(ms) : null;
    }
    return this.#watchdog ?? undefined;
  }

  /** The client, connecting it when there is none. */
  get(): Promise<Redis> {
    const dog = this.#dog();
    if (this.#connected && this.#shared) {
      dog?.touch();
      return this.#shared;
    }
    if (!this.#shared) {
      const attempt = this.connect();
      this.#shared = attempt;
      attempt.then(
        (redis) => {
          if (this.#shared !== attempt) return;
          const watched: Watched | undefined = dog && {
            probe: () => pingAll(redis),
            onStall: (waited) => {
              deadlineExceeded().add(1);
              this.#replace(redis, waited);
            },
          };
          this.#connected = { redis, watched };
          if (watched) dog?.watch(watched);
        },
        () => {
          // Clear only our own attempt, so a concurrent retry that already replaced it is kept.
          if (this.#shared === attempt) this.#shared = undefined;
        },
      );
    }
    // While connecting, each caller waits at most the deadline; the connect itself goes on for the next one.
    return dog ? dog.bound(this.#shared, 'connecting to Redis') : this.#shared;
  }

  /** Drops a client that stopped answering, so that the next call connects a new one. */
  #replace(redis: Redis, waitedMs: number): void {
    consoleLogger.warn(
      `Redis did not answer a PING for ${waitedMs} ms with commands waiting; closing the connection and opening a new one`,
    );
    if (this.#connected?.redis === redis) {
      this.#connected = undefined;
      this.#shared = undefined;
    }
    // Rejects every pending command now (DisconnectsClientError -> 503).
    redis.destroy();
  }

  /** Closes the client, letting pending replies arrive; safe to call when none exists. */
  async close(): Promise<void> {
    const current = this.#shared;
    if (this.#connected?.watched) this.#watchdog?.unwatch(this.#connected.watched);
    this.#shared = undefined;
    this.#connected = undefined;
    if (!current) return;
    const redis = await current.catch(() => undefined);
    if (!redis) return;
    // close() waits for pending replies, which a stalled server never sends: give it the deadline, then cut.
    let timer: NodeJS.Timeout | undefined;
    const cut = new Promise<void>((ok) => {
      timer = setTimeout(ok, Math.max(getConfig().redis.deadlineMs, 1000));
    });
    await Promise.race([redis.close().catch(() => undefined), cut]);
    clearTimeout(timer);
    redis.destroy();
  }
}

const main = new LazyClient(() => connectRedis(getConfig().redis));
// Clients that close with the main one (the SKU reader's).
const others = new Set<LazyClient>();

/** Closes `client` with the worker's shared client (closeRedis). */
export function closeWithShared(client: LazyClient): void {
  others.add(client);
}

/** The worker's one shared client, connected on first use (see LazyClient). */
export function getRedis(): Promise<Redis> {
  return main.get();
}

/** Closes the shared client (and those closed with it), letting pending replies arrive. */
export async function closeRedis(): Promise<void> {
  await Promise.all([main.close(), ...[...others].map((c) => c.close())]);
}
