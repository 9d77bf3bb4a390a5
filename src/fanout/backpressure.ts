import type { BackpressurePolicy } from '../types.js';
import type { Frame } from './frame.js';

/**
 * How much a connection may buffer, and what happens beyond. A connection is judged by whether it
 * drains, never by how many events one tick wrote to it: a burst to a client that reads goes out
 * whole, however many events it holds.
 */
export interface BufferLimits {
  /** `coalesce`: the most event names that may wait, merged, while congested; past it, a resync. */
  readonly bufferSize: number;
  /** Bytes waiting (in the transport and queued here) before backpressure applies. */
  readonly maxBufferedBytes: number;
  /** How long the transport may stay congested without a drain before backpressure applies. */
  readonly maxStallMs: number;
  readonly policy: BackpressurePolicy;
}

/**
 * Whether a congested stream is past its limits: over the bytes it may hold (`waitingBytes`), or
 * congested since `congestedSince` (ms since epoch) for longer than it may stay without a drain.
 */
export function overLimit(
  limits: BufferLimits,
  waitingBytes: number,
  congestedSince: number | undefined,
): boolean {
  return (
    waitingBytes > limits.maxBufferedBytes ||
    Date.now() - (congestedSince ?? Number.POSITIVE_INFINITY) > limits.maxStallMs
  );
}

/** What {@link CoalescedFrames.put} did with a frame. */
export type Coalesced =
  /** Kept: no frame of its name was waiting. */
  | 'kept'
  /** Kept in place of the waiting frame of its name, which is dropped. */
  | 'replaced'
  /** Past the limit: every waiting frame is dropped, this one too; the client must resync. */
  | 'overflow';

/**
 * `coalesce`: the frames waiting while a client is slow, the newest of each event name (the newer
 * invalidation covers the older), oldest name first, at most `limit` names.
 */
export class CoalescedFrames {
  readonly #waiting = new Map<string, [Frame, number]>();

  constructor(private readonly limit: number) {}

  /** Keeps `frame` of the connection's scope `scope` in place of the waiting one of its name. */
  put(frame: Frame, scope: number): Coalesced {
    const waiting = this.#waiting;
    // Re-insert so that the map stays in order of the newest event of each name.
    const replaced = waiting.delete(frame.key);
    waiting.set(frame.key, [frame, scope]);
    if (waiting.size <= this.limit) return replaced ? 'replaced' : 'kept';
    waiting.clear();
    return 'overflow';
  }

  /** The waiting frames with their scopes, oldest name first. */
  frames(): IterableIterator<[Frame, number]> {
    return this.#waiting.values();
  }
}
