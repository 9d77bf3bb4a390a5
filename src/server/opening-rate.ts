import { formatRetry } from '../wire/sse-format.js';

/**
 * What a token may fall short of 1 by and still open: the refill sums fractions of tokens in
 * floating point (0.282 s then 0.218 s at 4 a second leave 0.9999999999999999), and a deferred
 * request back at the very start of its slot must not lose it to a rounding.
 */
const ROUNDING = 1e-9;

/**
 * Spreads a burst of new streams (a reconnect storm: an instance died or was drained and its
 * browsers all come here) over time instead of opening them all at once or refusing some at
 * random. Streams open at up to `perSecond`, with a burst of one second's worth; a request beyond
 * that is deferred: `200` with only a `retry:` that gives it its own slot in the order it came,
 * the k-th deferred of a storm (counting from 0) `retry:` in `[(k+1)/perSecond, (k+2)/perSecond]`
 * seconds (rounded up to the millisecond), so that the deferred come back one slot apart, at
 * the rate the server opens. The slots promised and not yet due are the backlog: a later deferred
 * request is queued behind them.
 */
export class OpeningRate {
  /** Streams that may open now (a token bucket of one second's worth). */
  #tokens: number;
  /** Deferred requests whose slot has not come yet (decays at `perSecond`). */
  #backlog = 0;
  #at: number;
  readonly #intervalMs: number;

  /** `perSecond` 0 turns the spreading off: every request opens. */
  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
    private readonly random: () => number = Math.random,
  ) {
    this.#tokens = perSecond;
    this.#intervalMs = perSecond > 0 ? 1_000 / perSecond : 0;
    this.#at = now();
  }

  #refill(): void {
    const t = this.now();
    const earned = ((t - this.#at) * this.perSecond) / 1_000;
    this.#at = t;
    // The slots promised pass as time does; the bucket refills for whoever comes in them.
    this.#backlog = Math.max(0, this.#backlog - earned);
    this.#tokens = Math.min(this.perSecond, this.#tokens + earned);
  }

  /**
   * Takes a slot: null when the stream may open now, else the `retry:` delay (ms) of its slot.
   * The deferred come back at the rate the bucket refills, so they find it refilled; one that
   * loses its slot to a newcomer is given the next free slot, never refused.
   */
  take(): number | null {
    if (this.perSecond <= 0) return null;
    this.#refill();
    if (this.#tokens >= 1 - ROUNDING) {
      this.#tokens = Math.max(0, this.#tokens - 1);
      return null;
    }
    const slot = Math.floor(this.#backlog);
    this.#backlog += 1;
    // Rounded up: a deferred request back a fraction of a millisecond before its slot would find
    // the bucket a fraction of a token short.
    return Math.ceil((slot + 1 + this.random()) * this.#intervalMs);
  }

  /** Deferred requests still to come back (their slots not yet due). */
  get backlog(): number {
    this.#refill();
    return Math.ceil(this.#backlog);
  }
}

/** The answer to a deferred request: its slot as `retry:`, and why, as a comment. */
export function deferredRetry(delayMs: number): Buffer {
  return Buffer.from(`: maxOpeningsPerSecond\n${formatRetry(delayMs)}`);
}
