// Values the app already parsed from keys read through a tracking connection, kept until Redis says the key
// changed. node-redis's client-side cache still runs every hit through its command machinery (cache key,
// command metadata, a structuredClone of the reply); this keeps the app's own value instead, and is dropped
// exactly when node-redis's cache is: a subclass of its cache provider tells it of every invalidation, every
// clear (a lost connection, a server flush) and, on a cluster, of the pauses while the topology is rediscovered.
import type { RedisArgument } from 'redis';
import { BasicClientSideCache, BasicPooledClientSideCache } from 'redis';

interface Entry<T> {
  value: T;
  until: number;
}

/**
 * A bounded map of values by Redis key, forgotten on invalidation, after `ttlMs`, or when full (oldest first).
 * Values are kept under a name for their key (`nameOf`: a SKU's id for `sku:{id}`), so that a lookup needs
 * no key built; a key with no name (undefined) is not kept, but its invalidation still counts.
 */
export class KeyMemo<T> {
  readonly #entries = new Map<string, Entry<T>>();
  // Counts invalidations: a value read before one is not kept (its invalidation may have come first).
  #version = 0;
  #paused = false;
  /** Gets answered from the memo, and not. */
  hits = 0;
  misses = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly nameOf: (key: string) => string | undefined = (key) => key,
  ) {}

  /** The value kept under `name`, or undefined (not kept, expired, or the memo is paused). */
  get(name: string, now = Date.now()): T | undefined {
    const entry = this.#paused ? undefined : this.#entries.get(name);
    if (!entry || entry.until <= now) {
      if (entry) this.#entries.delete(name);
      this.misses++;
      return undefined;
    }
    this.hits++;
    return entry.value;
  }

  /** A mark to take before sending a read, and to give back to `set` with its reply. */
  version(): number {
    return this.#version;
  }

  /** Keeps a value under `name`, read when `version()` was `readAt`, unless anything was invalidated since. */
  set(name: string, value: T, readAt: number, now = Date.now()): void {
    if (this.#paused || readAt !== this.#version || this.maxEntries === 0) return;
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(name, { value, until: now + (this.ttlMs > 0 ? this.ttlMs : Infinity) });
  }

  /** Forgets one key (null: all). */
  drop(key: RedisArgument | null): void {
    this.#version++;
    if (key === null) {
      this.#entries.clear();
      return;
    }
    const name = this.nameOf(key.toString());
    if (name !== undefined) this.#entries.delete(name);
  }

  /** Forgets everything and keeps nothing until resumed (a cluster rediscovering its topology). */
  pause(): void {
    this.drop(null);
    this.#paused = true;
  }

  /** Keeps values again. */
  resume(): void {
    this.#version++;
    this.#paused = false;
  }

  /** How many values are kept. */
  get size(): number {
    return this.#entries.size;
  }
}

/** node-redis's cache provider for one client, telling `memo` of everything it forgets. */
export class MemoizedCache<T> extends BasicClientSideCache {
  constructor(
    config: ConstructorParameters<typeof BasicClientSideCache>[0],
    private readonly memo: KeyMemo<T>,
  ) {
    super(config);
  }

  override invalidate(key: RedisArgument | null): void {
    super.invalidate(key);
    this.memo.drop(key);
  }

  override clear(resetStats?: boolean): void {
    super.clear(resetStats);
    this.memo.drop(null);
  }
}

/** node-redis's cache provider for a cluster, telling `memo` of everything it forgets and of its pauses. */
export class MemoizedPooledCache<T> extends BasicPooledClientSideCache {
  constructor(
    config: ConstructorParameters<typeof BasicPooledClientSideCache>[0],
    private readonly memo: KeyMemo<T>,
  ) {
    super(config);
  }

  override invalidate(key: RedisArgument | null): void {
    super.invalidate(key);
    this.memo.drop(key);
  }

  override clear(resetStats?: boolean): void {
    super.clear(resetStats);
    this.memo.drop(null);
  }

  override disable(): void {
    super.disable();
    this.memo.pause();
  }

  override enable(): void {
    super.enable();
    this.memo.resume();
  }
}
