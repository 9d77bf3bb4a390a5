import type { HistoryReadStats } from '../fanout/history-reads.js';
import type { Broker, BrokerState, DisconnectReason } from '../types.js';

/** Why a request was answered with only a `retry:`. @public */
export type RefusalReason =
  | 'broker'
  | 'maxConnections'
  | 'maxConnectionsPerPrincipal'
  | 'maxOpeningsPerSecond'
  | 'closing';

/** A point-in-time view of one server. @public */
export interface SseServerStats {
  /** Open SSE streams on this instance. */
  readonly connections: number;
  /**
   * Scopes with a live broker subscription: one per scope, whatever the number of clients or
   * routes (on Redis in pattern mode, this server's share of `PUBSUB NUMPAT`).
   */
  readonly hubs: number;
  /** Events received from the broker and encoded (once each). */
  readonly eventsIn: number;
  /** Event writes to connections (one event to ten clients counts ten). */
  readonly eventsOut: number;
  /** Events written by replays after a reconnect. */
  readonly replayed: number;
  /** Resync events written. */
  readonly resyncs: number;
  /** Events skipped or merged for slow clients (`drop`, `coalesce`). */
  readonly dropped: number;
  /** Streams ended, by reason (streams that never opened are not counted). */
  readonly disconnects: Readonly<Record<DisconnectReason, number>>;
  /** New streams waiting for the broker right now (at most `openTimeoutMs` each). */
  readonly opening: number;
  /**
   * Requests answered with only a `retry:` and the end of the stream, by reason: `broker` (the
   * broker did not serve them within `openTimeoutMs`), a connection limit, `maxOpeningsPerSecond`
   * (deferred to a later slot of a burst, see LimitOptions), or `closing`.
   */
  readonly refused: Readonly<Record<RefusalReason, number>>;
  /** The broker's own view of its subscription ({@link Broker.state}); `ready` when it has none. */
  readonly broker: BrokerState;
  /**
   * The broker's shards whose subscription does not receive ({@link Broker.silentShards}): on a
   * Redis Cluster the masters, as `host:port`, that missed the last liveness probe. Empty when
   * every shard receives, and for brokers without shards.
   */
  readonly silentShards: readonly string[];
  /**
   * The history reads of this server (replays, recoveries, start positions): `sent` to the
   * broker, `shared` (calls answered by an identical read another call asked for), `running` and
   * `queued` now (at most `maxConcurrentHistoryReads` run at once), and the `peak` that ran at once.
   * All 0 without a history.
   */
  readonly historyReads: HistoryReadStats;
}

/** What a server's registry and broker tell at the time of a snapshot. */
export type LiveStats = Pick<
  SseServerStats,
  'connections' | 'hubs' | 'opening' | 'broker' | 'silentShards' | 'historyReads'
>;

/** A count of 0 for every disconnect reason. */
export function zeroDisconnects(): Record<DisconnectReason, number> {
  return {
    'client-closed': 0,
    backpressure: 0,
    'server-closed': 0,
    expired: 0,
    revoked: 0,
    error: 0,
  };
}

/** A count of 0 for every refusal reason. */
export function zeroRefusals(): Record<RefusalReason, number> {
  return {
    broker: 0,
    maxConnections: 0,
    maxConnectionsPerPrincipal: 0,
    maxOpeningsPerSecond: 0,
    closing: 0,
  };
}

/** The monotonic counters of one server; they only grow, each through the method that counts it. */
export class ServerCounters {
  #eventsIn = 0;
  #eventsOut = 0;
  #replayed = 0;
  #resyncs = 0;
  #dropped = 0;
  readonly #disconnects = zeroDisconnects();
  readonly #refused = zeroRefusals();

  /** An event came from the broker and was written to `recipients` connections. */
  broadcast(recipients: number): void {
    this.#eventsIn++;
    this.#eventsOut += recipients;
  }

  /** A replay wrote `count` events. */
  replayed(count: number): void {
    this.#replayed += count;
  }

  /** A resync was written. */
  resynced(): void {
    this.#resyncs++;
  }

  /** An event was skipped or merged for a slow client. */
  dropped(): void {
    this.#dropped++;
  }

  /** A stream that had opened ended. */
  disconnected(reason: DisconnectReason): void {
    this.#disconnects[reason]++;
  }

  /** A request was answered with only a `retry:`. */
  refused(reason: RefusalReason): void {
    this.#refused[reason]++;
  }

  /** The counters (copied) with what is live right now. */
  snapshot(live: LiveStats): SseServerStats {
    return {
      connections: live.connections,
      hubs: live.hubs,
      eventsIn: this.#eventsIn,
      eventsOut: this.#eventsOut,
      replayed: this.#replayed,
      resyncs: this.#resyncs,
      dropped: this.#dropped,
      disconnects: { ...this.#disconnects },
      opening: live.opening,
      refused: { ...this.#refused },
      broker: live.broker,
      silentShards: [...live.silentShards],
      historyReads: live.historyReads,
    };
  }
}
