/** The contracts of `eventrail/cluster`: options, the primary, a worker, the box's health. */
import type { SseServer, SseServerHealth } from '../server.js';
import type { Logger } from '../types.js';

/** The part of a server a worker reports to the primary's {@link ClusterPrimary.health}. @public */
export type ReportedServer = Pick<SseServer, 'health' | 'stats'>;

/** Options of {@link startCluster}. @public */
export interface ClusterOptions {
  /**
   * How many processes serve: a whole number >= 1, `'auto'` (one per core:
   * `os.availableParallelism()`), or the same as a string (pass `process.env.WORKERS` as it is).
   * `undefined` or `''` means 1: no cluster, the script runs in this process as it would without
   * {@link startCluster}.
   */
  workers: number | string | undefined;
  /**
   * Runs in the primary once the workers are forked, e.g. to serve the box's metrics (prom-client's
   * `AggregatorRegistry`) and {@link ClusterPrimary.health} on a port of their own.
   */
  primary?: (box: ClusterPrimary) => void | Promise<void>;
  /**
   * How long a worker may take to end after SIGTERM (closing its streams, its broker) before the
   * primary kills it with SIGKILL. Keep it above the servers' `drainWindowMs` (10 s by default),
   * over which a worker holding thousands of streams spreads their closes. @defaultValue `30000`
   */
  shutdownTimeoutMs?: number;
  /**
   * How long the primary waits before replacing a worker that died. It doubles (up to 30 s) while
   * replacements die within 10 s of starting, so that a worker that cannot start does not spin.
   * @defaultValue `1000`
   */
  restartDelayMs?: number;
  /** Hears of workers that die, are replaced or are killed after the shutdown timeout. */
  logger?: Logger;
}

/** One worker, as the primary's {@link ClusterPrimary.health} sees it. @public */
export interface WorkerHealth {
  /** node:cluster's worker id (a replacement gets a new one). */
  readonly id: number;
  readonly pid: number;
  /** It answered within the timeout, has reported a server, and every server it reported is ok. */
  readonly ok: boolean;
  /** False when it did not answer within the timeout (starting, stuck, or dying). */
  readonly answered: boolean;
  /** Open streams of its servers. */
  readonly connections: number;
  /** The health of each server it reported ({@link ClusterMember.observe}). */
  readonly servers: readonly SseServerHealth[];
}

/** The box: every worker's health. @public */
export interface BoxHealth {
  /** Every one of the `expected` workers is alive and ok. */
  readonly ok: boolean;
  /** How many workers the box runs when none is missing. */
  readonly expected: number;
  /** Open streams of the whole box. */
  readonly connections: number;
  readonly workers: readonly WorkerHealth[];
}

/** The primary process of a box: what {@link ClusterOptions.primary} is given. @public */
export interface ClusterPrimary {
  /** How many workers the box runs. */
  readonly size: number;
  /** The pids of the workers alive now. */
  pids(): number[];
  /** Asks every worker for its health; a worker silent for `timeoutMs` (default 2000) is not ok. */
  health(timeoutMs?: number): Promise<BoxHealth>;
  /**
   * SIGTERM to every worker, SIGKILL to those still alive after `shutdownTimeoutMs`; resolves when
   * none is left. No worker is replaced from then on. SIGTERM and SIGINT to the primary do this,
   * then end the primary.
   */
  close(): Promise<void>;
}

/** This process as one instance of the box: what {@link startCluster} returns. @public */
export interface ClusterMember {
  /** node:cluster's worker id; 0 when the box is this one process. */
  readonly id: number;
  /** How many workers the box runs (1 without a cluster). */
  readonly workers: number;
  /**
   * Reports a server to the primary's {@link ClusterPrimary.health}. Returns a function that stops
   * reporting it.
   */
  observe(server: ReportedServer): () => void;
}
