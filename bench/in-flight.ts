/**
 * Events published and not yet received by every connection of their scope: each load worker
 * reports an event's seq as done once all its connections of that scope have it.
 */
import type { WorkerReply } from './protocol.js';
import type { Rig } from './rig.js';

export class InFlight {
  readonly #rig: Rig;
  readonly #events = new Map<number, { at: number; waiting: number }>();
  readonly #listener = (m: WorkerReply): void => {
    if (m.type !== 'done') return;
    for (const seq of m.seqs) {
      const entry = this.#events.get(seq);
      if (entry !== undefined && --entry.waiting <= 0) this.#events.delete(seq);
    }
    this.#onDone();
  };
  readonly #onDone: () => void;

  /** Listens to the rig's workers until {@link close}; `onDone` runs after each of their reports. */
  constructor(rig: Rig, onDone: () => void = () => {}) {
    this.#rig = rig;
    this.#onDone = onDone;
    for (const w of rig.workers) w.child.on('message', this.#listener);
  }

  /** Tracks `seq`, just published to `scope`: done when every worker holding the scope says so. */
  add(seq: number, scope: number): void {
    this.#events.set(seq, { at: Date.now(), waiting: this.#rig.holders.get(scope)?.size ?? 0 });
  }

  /** Events not yet received everywhere. */
  get size(): number {
    return this.#events.size;
  }

  /** Stops tracking the events published more than `ms` ago; returns how many there were. */
  expire(ms: number): number {
    const old = Date.now() - ms;
    let expired = 0;
    for (const [seq, entry] of this.#events) {
      if (entry.at < old) {
        this.#events.delete(seq);
        expired++;
      }
    }
    return expired;
  }

  close(): void {
    for (const w of this.#rig.workers) w.child.off('message', this.#listener);
  }
}
