/**
 * Time limits for Redis commands without a timer or an AbortSignal per command (each costs a
 * timer, an EventTarget and a weak reference: at thousands of publishes per second, more CPU and
 * GC than the publish itself). Commands started within one slice of time share one AbortSignal,
 * and one sweep timer rejects whatever has waited too long.
 */
import { setMaxListeners } from 'node:events';

interface Waiting {
  readonly due: number;
  readonly what: string;
  readonly reject: (error: Error) => void;
  readonly onExpired: (() => void) | undefined;
}

interface Slice {
  readonly controller: AbortController;
  /** Commands of this slice started before this time. */
  readonly until: number;
  /** When the slice's signal aborts: no sooner than the limit after its last command started. */
  readonly due: number;
}

/** Shared deadlines of one limit, `ms`. */
export class Deadlines {
  /** Waiting calls, oldest first (their due times only grow). */
  private readonly waiting = new Set<Waiting>();
  /** Slices whose signal has not aborted yet, oldest first. */
  private readonly slices: Slice[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** How late past its limit a call may be told: the sweep period and the slice length. */
  private readonly slack: number;

  constructor(
    private readonly ms: number,
    private readonly timeoutError: (what: string, ms: number) => Error,
  ) {
    this.slack = Math.max(1, Math.min(Math.ceil(ms / 10), 250));
  }

  /**
   * An AbortSignal that aborts between `ms` and `ms` plus a tenth (at most 250 ms more) from now,
   * shared with the commands started around the same time.
   */
  signal(): AbortSignal {
    const now = Date.now();
    let slice = this.slices[this.slices.length - 1];
    if (slice === undefined || now >= slice.until) {
      const controller = new AbortController();
      // One listener per command of the slice, by design: no leak to warn about.
      setMaxListeners(0, controller.signal);
      slice = {
        controller,
        until: now + this.slack,
        due: now + this.slack + this.ms,
      };
      this.slices.push(slice);
      this.arm();
    }
    return slice.controller.signal;
  }

  /**
   * Settles like `promise`, or rejects with the timeout error of `what` once it has waited `ms`
   * (told at most a tenth, or 250 ms, late). `onExpired` runs just before that rejection, after
   * every open slice's signal has aborted.
   */
  bound<T>(promise: Promise<T>, what: string, onExpired?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Waiting = { due: Date.now() + this.ms, what, reject, onExpired };
      this.waiting.add(entry);
      // A waiting call keeps the process alive until it is told, as its own timer would.
      if (this.waiting.size === 1) this.arm().ref();
      promise.then(
        (value) => {
          this.settled(entry);
          resolve(value);
        },
        (err: unknown) => {
          this.settled(entry);
          reject(err);
        },
      );
    });
  }

  private settled(entry: Waiting): void {
    // Slices alone never hold the process: an abort nobody waits for is of no use.
    if (this.waiting.delete(entry) && this.waiting.size === 0) this.timer?.unref();
  }

  private arm(): NodeJS.Timeout {
    if (this.timer === undefined) {
      // The sweep runs after the I/O of the current loop turn (setImmediate), not in the timer
      // phase before it: after the event loop was blocked past a deadline, a reply that has
      // arrived meanwhile settles its call first, instead of the call being reported as timed
      // out while Redis did run it.
      this.timer = setInterval(() => setImmediate(() => this.sweep()), this.slack);
      if (this.waiting.size === 0) this.timer.unref();
    }
    return this.timer;
  }

  private sweep(): void {
    const now = Date.now();
    const expired: Waiting[] = [];
    for (const entry of this.waiting) {
      if (entry.due > now) break;
      expired.push(entry);
    }
    // A call is told it failed only once its command can no longer be sent: its slice may abort
    // later than the call's own limit, so when any call expires every open slice aborts first
    // (Redis has not answered for the whole limit; what else is queued fails with it).
    let aborted = 0;
    if (expired.length > 0) aborted = this.slices.length;
    else
      while (aborted < this.slices.length && (this.slices[aborted] as Slice).due <= now) aborted++;
    for (const slice of this.slices.splice(0, aborted)) slice.controller.abort();
    for (const entry of expired) {
      this.settled(entry);
      entry.onExpired?.();
      entry.reject(this.timeoutError(entry.what, this.ms));
    }
    if (this.waiting.size === 0 && this.slices.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
