import type { BrokerMessage, Principal } from '../types.js';
import {
  isNewMark,
  isOtherEpoch,
  markAt,
  type Position,
  type PositionMarks,
  positionMarks,
  scopeTag,
  setMark,
} from '../wire/event-ids.js';
import { splitOrigin } from '../wire/protocol.js';
import type { Connection } from './connection.js';
import type { Frame } from './frame.js';

/**
 * The event to the connection it came from: marked for the tab that caused it when the origin
 * names one, else skipped. True when it was written.
 */
function sendOwn(connection: Connection, frame: Frame, scope: number): boolean {
  const own = frame.forTab();
  if (own !== undefined) return connection.send(own, scope);
  connection.skip(frame, scope);
  return false;
}

/** Before the first position: older than any. */
const NONE: Position = { ms: -1, seq: -1 };

/**
 * Everything one instance does for one scope (`gym:1`): the one broker subscription
 * (`gym:1:*`) and the connections that receive from it, indexed by topic so that fan-out only
 * visits the connections an event is for. Each connection sits in a hub at most once (with the
 * index of this scope among its own scopes), so an event can never reach a connection twice,
 * however its routes overlap.
 */
export class Hub<P extends Principal = Principal> {
  /** Connections routed to every topic of the scope. */
  private readonly all = new Map<Connection<P>, number>();
  /** Connections routed to some topics only. */
  private readonly byTopic = new Map<string, Map<Connection<P>, number>>();
  /**
   * The newest history position this hub has seen (where to recover from after a gap), as numbers:
   * it moves with every event (see {@link PositionMarks}).
   */
  private seen: PositionMarks = positionMarks([NONE]);
  /** Live messages deferred while the hub recovers from a gap; undefined when live. */
  #deferred: BrokerMessage[] | undefined;
  /** Another gap was signalled while the hub recovered: its history read may predate it. */
  #again = false;
  /** The id tag of connections that cover this scope alone. */
  readonly idTag: string;
  /** `[key]`: the scope keys of connections that cover this scope alone, shared by them all. */
  readonly keys: readonly string[];

  constructor(
    /** `{scope}:{scope_id}` */
    readonly key: string,
  ) {
    this.keys = [key];
    this.idTag = scopeTag(this.keys);
  }

  /** The newest history position this hub has seen, or undefined before the first. */
  get lastSeen(): Position | undefined {
    const position = markAt(this.seen, 0);
    return position.ms < 0 ? undefined : position;
  }

  /** After a resync: the hub is at the scope's newest position, whatever it had seen. */
  resetTo(position: Position): void {
    this.seen = positionMarks([position]);
  }

  /** True while the hub recovers from a gap (live messages are deferred meanwhile). */
  get recovering(): boolean {
    return this.#deferred !== undefined;
  }

  /**
   * Starts a recovery; false when one is already running (which then reads the history once more,
   * see {@link recoverAgain}: what it read may be older than this gap).
   */
  beginRecovery(): boolean {
    if (this.#deferred !== undefined) {
      this.#again = true;
      return false;
    }
    this.#deferred = [];
    this.#again = false;
    return true;
  }

  /** True, once, when a gap was signalled during the running recovery's history read. */
  recoverAgain(): boolean {
    const again = this.#again;
    this.#again = false;
    return again;
  }

  /** Defers a live message while recovering; false when live (deliver it now). */
  deferWhileRecovering(message: BrokerMessage): boolean {
    if (this.#deferred === undefined) return false;
    this.#deferred.push(message);
    return true;
  }

  /** Ends the recovery: the messages deferred meanwhile, oldest first, to deliver now. */
  endRecovery(): BrokerMessage[] {
    const deferred = this.#deferred ?? [];
    this.#deferred = undefined;
    return deferred;
  }

  /**
   * `position` is in another history than the positions seen so far (another epoch: a promoted
   * replica, a restarted Redis, a slot moved to another master). Its id says nothing about what
   * this hub has seen: it may even reissue one already delivered.
   */
  isOtherHistory(position: Position): boolean {
    return isOtherEpoch(this.seen, 0, position);
  }

  /** Records `position` when it is newer than any seen; false when it is not (a duplicate). */
  advance(position: Position): boolean {
    if (!isNewMark(this.seen, 0, position)) return false;
    setMark(this.seen, 0, position);
    return true;
  }

  /** The glob this hub's broker subscription matches: every channel of its scope. */
  get glob(): string {
    return `${this.key}:*`;
  }

  /**
   * Adds a connection for all topics (`topics` null) or for the listed ones; `scope` is the index
   * of this hub's scope among the connection's scopes.
   */
  add(connection: Connection<P>, topics: ReadonlySet<string> | null, scope: number): void {
    if (topics === null) {
      this.all.set(connection, scope);
      return;
    }
    for (const topic of topics) {
      let map = this.byTopic.get(topic);
      if (map === undefined) {
        map = new Map();
        this.byTopic.set(topic, map);
      }
      map.set(connection, scope);
    }
  }

  remove(connection: Connection<P>, topics: ReadonlySet<string> | null): void {
    if (topics === null) {
      this.all.delete(connection);
      return;
    }
    for (const topic of topics) {
      const map = this.byTopic.get(topic);
      if (map?.delete(connection) && map.size === 0) this.byTopic.delete(topic);
    }
  }

  /**
   * Writes one encoded event to every connection routed to `topic`, except the one it came from
   * (an origin `{connectionId}.{tabId}` names a tab of a shared connection: that connection gets
   * the event marked for the tab instead). Returns how many connections it was written to.
   */
  deliver(topic: string, frame: Frame): number {
    const origin = frame.event.origin;
    const from = origin === undefined ? undefined : splitOrigin(origin).connection;
    let recipients = 0;
    // A write can close a connection (backpressure), which removes it from these maps while we
    // iterate; Map iteration allows that and never visits an entry twice.
    for (const [connection, scope] of this.all) {
      if (
        connection.id === from ? sendOwn(connection, frame, scope) : connection.send(frame, scope)
      )
        recipients++;
    }
    const some = this.byTopic.get(topic);
    if (some !== undefined) {
      for (const [connection, scope] of some) {
        if (
          connection.id === from ? sendOwn(connection, frame, scope) : connection.send(frame, scope)
        )
          recipients++;
      }
    }
    return recipients;
  }

  /** Every connection of the hub with its scope index (each once). */
  *members(): IterableIterator<[Connection<P>, number]> {
    const seen = new Set<Connection<P>>();
    for (const entry of this.all) {
      seen.add(entry[0]);
      yield entry;
    }
    for (const map of this.byTopic.values()) {
      for (const entry of map) {
        if (seen.has(entry[0])) continue;
        seen.add(entry[0]);
        yield entry;
      }
    }
  }
}
