// Bounds every wait on Redis without a timer per command.
//
// node-redis stops counting a command's timeout once the command is written, so a server that stalls with
// its socket open (a paused process, a black-holed network path) would hold every caller forever; and a
// per-command timer, where it works, costs real throughput (an AbortSignal and a timer per call). Instead,
// one coarse clock per process ticks every deadline/8 while Redis is in use. On each tick the watchdog
// sends one PING down every connection of the shared client unless its last one is still unanswered.
// Replies on a connection come back in order, so a PING that waits longer than the deadline minus one tick
// means that every command queued before it has waited as long: the connection is torn down, which
// rejects every pending command at once (503), and the next call opens a new one. A command therefore
// waits at most one tick for the next probe plus the probe's limit: the deadline.
import { ensureError, RedisDeadlineError, RedisUnavailableError } from '../errors.js';

/** What the watchdog looks after: one client and how to probe and replace it. */
export interface Watched {
  /** One round trip over every connection (a PING per primary). */
  probe: () => Promise<unknown>;
  /** Tears the connection down; called once, when a probe waited too long. */
  onStall: (waitedMs: number) => void;
}

interface Waiter {
  since: number;
  what: string;
  reject: (err: Error) => void;
}

// Probing goes on this long after the last use, so a long pipeline (a segment write) stays watched.
const ACTIVE_MS = 30_000;

/** The process-wide clock that enforces the Redis deadline. */
export class Watchdog {
  readonly deadlineMs: number;
  readonly #stepMs: number;
  readonly #limit: number;
  readonly #activeTicks: number;
  #tick = 0;
  #timer: NodeJS.Timeout | undefined;
  #lastUse = 0;
  #watched: Watched | undefined;
  #probeSince = -1;
  #probeRound = 0;
  readonly #waiters = new Set<Waiter>();

  constructor(deadlineMs: number) {
    this.deadlineMs = deadlineMs;
    this.#stepMs = Math.max(5, Math.floor(deadlineMs / 8));
    this.#limit = Math.max(1, Math.floor(deadlineMs / this.#stepMs));
    this.#activeTicks = Math.ceil(ACTIVE_MS / this.#stepMs);
  }

  /** Marks Redis as in use, so the connection is probed; one assignment on the hot path. */
  touch(): void {
    this.#lastUse = this.#tick;
    if (this.#timer === undefined) this.#start();
  }

  /** Starts probing a newly connected client (replacing the previous one, if any). */
  watch(target: Watched): void {
    this.#watched = target;
    this.#probeSince = -1;
    this.#probeRound++;
    this.touch();
  }

  /** Stops probing `target` (closed or replaced). */
  unwatch(target: Watched): void {
    if (this.#watched !== target) return;
    this.#watched = undefined;
    this.#probeSince = -1;
    this.#probeRound++;
  }

  /** Waits for `promise`, or rejects with RedisDeadlineError once the deadline has passed. */
  bound<T>(promise: Promise<T>, what: string): Promise<T> {
    this.touch();
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = { since: this.#tick, what, reject };
      this.#waiters.add(waiter);
      promise.then(
        (v) => {
          this.#waiters.delete(waiter);
          resolve(v);
        },
        (err: unknown) => {
          this.#waiters.delete(waiter);
          reject(ensureError(err));
        },
      );
    });
  }

  /** Stops the clock and rejects every waiter. */
  stop(): void {
    for (const w of this.#waiters) w.reject(new RedisUnavailableError(`${w.what} abandoned: client closed`));
    this.#waiters.clear();
    this.#watched = undefined;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #start(): void {
    this.#timer = setInterval(() => {
      this.#onTick();
    }, this.#stepMs);
    // The clock never keeps a process alive by itself (tests, scripts, a worker shutting down).
    this.#timer.unref();
  }

  #onTick(): void {
    const now = ++this.#tick;
    // A waiter registered during tick w has waited more than (now - w - 1) steps: reject it once that
    // reaches the deadline minus a step, so that none waits past the deadline.
    for (const w of this.#waiters) {
      if (now - w.since >= this.#limit) {
        this.#waiters.delete(w);
        w.reject(new RedisDeadlineError(`${w.what} took longer than ${this.deadlineMs} ms`));
      }
    }
    const target = this.#watched;
    if (target) {
      if (this.#probeSince >= 0) {
        if (now - this.#probeSince >= this.#limit - 1) {
          const waited = (now - this.#probeSince) * this.#stepMs;
          this.unwatch(target);
          target.onStall(waited);
        }
      } else if (now - this.#lastUse <= this.#activeTicks) {
        this.#probe(target, now);
      }
    }
    const idle = this.#waiters.size === 0 && this.#probeSince < 0 && now - this.#lastUse > this.#activeTicks;
    if (idle && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #probe(target: Watched, now: number): void {
    this.#probeSince = now;
    const round = this.#probeRound;
    const done = () => {
      // A reply for a client that was replaced meanwhile says nothing about the current one.
      if (round === this.#probeRound) this.#probeSince = -1;
    };
    // A failing probe (offline while reconnecting) is not a stall: commands fail fast then.
    target.probe().then(done, done);
  }
}
