import type { Connection } from './connection.js';
import type { BrokerSubscription, OutgoingEvent, Principal } from './types.js';

/**
 * Everything one instance does for one scope (`gym:1`): the one broker subscription
 * (`gym:1:*`) and the connections that receive from it, indexed by topic so that fan-out only
 * visits the connections an event is for. Each connection sits in a hub at most once, so an event
 * can never reach a connection twice, however its routes overlap.
 */
export class Hub<P extends Principal = Principal> {
  /** Connections routed to every topic of the scope. */
  private readonly all = new Set<Connection<P>>();
  /** Connections routed to some topics only. */
  private readonly byTopic = new Map<string, Set<Connection<P>>>();
  /** Connections that hold this hub (including those still being set up). */
  refs = 0;
  subscription: BrokerSubscription | undefined;
  idleTimer: NodeJS.Timeout | undefined;

  constructor(
    /** `{scope}:{scope_id}` */
    readonly key: string,
  ) {}

  /** The broker pattern of this hub. */
  get pattern(): string {
    return `${this.key}:*`;
  }

  /** Adds a connection for all topics (`topics` null) or for the listed ones. */
  add(connection: Connection<P>, topics: ReadonlySet<string> | null): void {
    if (topics === null) {
      this.all.add(connection);
      return;
    }
    for (const topic of topics) {
      let set = this.byTopic.get(topic);
      if (set === undefined) {
        set = new Set();
        this.byTopic.set(topic, set);
      }
      set.add(connection);
    }
  }

  remove(connection: Connection<P>, topics: ReadonlySet<string> | null): void {
    if (topics === null) {
      this.all.delete(connection);
      return;
    }
    for (const topic of topics) {
      const set = this.byTopic.get(topic);
      if (set?.delete(connection) && set.size === 0) this.byTopic.delete(topic);
    }
  }

  /**
   * Writes one encoded event to every connection routed to `topic`, except the one it came from.
   * Returns how many connections it was written to.
   */
  deliver(topic: string, chunk: Uint8Array, event: OutgoingEvent): number {
    const origin = event.origin;
    let recipients = 0;
    // A write can close a connection (backpressure), which removes it from these sets while we
    // iterate; Set iteration allows that and never visits an entry twice.
    for (const connection of this.all) {
      if (connection.id !== origin && connection.send(chunk, event)) recipients++;
    }
    const some = this.byTopic.get(topic);
    if (some !== undefined) {
      for (const connection of some) {
        if (connection.id !== origin && connection.send(chunk, event)) recipients++;
      }
    }
    return recipients;
  }
}
