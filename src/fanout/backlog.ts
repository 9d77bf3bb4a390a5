import type { Frame } from './frame.js';

/** Live events a connection may hold while its replay runs, before it gives up and resyncs. */
const MAX_BACKLOG = 10_000;

/**
 * The live frames that reach a connection while its replay runs, with the connection's scope of
 * each, held in order to be written after the replay (which may already have covered some).
 */
export class Backlog {
  #held: Array<[Frame, number]> = [];

  /** Holds a frame of the connection's scope `scope`; false when full (the client must resync). */
  hold(frame: Frame, scope: number): boolean {
    if (this.#held.length >= MAX_BACKLOG) return false;
    this.#held.push([frame, scope]);
    return true;
  }

  /**
   * Hands the held frames to `send`, oldest first, while `open()` holds. True once all are out;
   * false when `open()` failed first: the rest stay held, and what is held meanwhile joins them.
   */
  release(send: (frame: Frame, scope: number) => unknown, open: () => boolean): boolean {
    const held = this.#held;
    let next = 0;
    while (next < held.length && open()) {
      const [frame, scope] = held[next++] as [Frame, number];
      send(frame, scope);
    }
    held.splice(0, next);
    return held.length === 0;
  }
}
