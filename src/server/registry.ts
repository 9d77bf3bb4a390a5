import type { Connection } from '../fanout/connection.js';
import type { Hub } from '../fanout/hub.js';
import type { Principal } from '../types.js';

/** A connection's place in one hub: the hub, and its topics there (null: all of them). */
export interface Membership<P extends Principal> {
  readonly hub: Hub<P>;
  readonly topics: ReadonlySet<string> | null;
}

/**
 * The streams of one server with the hubs each belongs to, and the sweep that drains the ones
 * past their lifetime (checked a few times per lifetime, at most every minute): the browser
 * reconnects, is authenticated again, and resumes from its id.
 */
export class ConnectionRegistry<P extends Principal> {
  readonly #memberships = new Map<Connection<P>, Membership<P>[]>();
  readonly #sweep: NodeJS.Timeout | undefined;

  constructor(lifetimeMs: number, expire: (connection: Connection<P>) => void) {
    if (lifetimeMs <= 0) return;
    this.#sweep = setInterval(
      () => {
        const oldest = Date.now() - lifetimeMs;
        for (const connection of this.all()) if (connection.openedAt <= oldest) expire(connection);
      },
      Math.max(50, Math.min(lifetimeMs / 4, 60_000)),
    );
    this.#sweep.unref();
  }

  get size(): number {
    return this.#memberships.size;
  }

  add(connection: Connection<P>, memberships: Membership<P>[]): void {
    this.#memberships.set(connection, memberships);
  }

  /** Takes a connection out; its memberships, or undefined when it was not in. */
  remove(connection: Connection<P>): Membership<P>[] | undefined {
    const memberships = this.#memberships.get(connection);
    this.#memberships.delete(connection);
    return memberships;
  }

  /** A copy of every connection: closing one while iterating is safe. */
  all(): Connection<P>[] {
    return [...this.#memberships.keys()];
  }

  /** Stops the lifetime sweep (shutdown). */
  stop(): void {
    clearInterval(this.#sweep);
  }
}
