/**
 * Prometheus metrics: `eventrail/metrics`, built on `prom-client` (an optional peer dependency;
 * install it to use this subpath).
 * @packageDocumentation
 */
import {
  Counter,
  Gauge,
  register as globalRegistry,
  Histogram,
  type OpenMetricsContentType,
  type Registry,
} from 'prom-client';
import { zeroDisconnects, zeroRefusals } from '../server/stats.js';
import type { RefusalReason, SseServer, SseServerStats } from '../server.js';
import type { DisconnectReason, Principal, ServerHooks } from '../types.js';

export { createClusterRegistry } from './cluster-metrics.js';
export { combineHooks } from './combine-hooks.js';

/** Options of {@link createMetrics}. @public */
export interface MetricsOptions {
  /** Where the metrics are registered. @defaultValue prom-client's global `register` */
  registry?: Registry | Registry<OpenMetricsContentType>;
  /** Prepended to every metric name. @defaultValue `'eventrail_'` */
  prefix?: string;
  /** Buckets of the publish-to-write histogram, in seconds. @defaultValue 1 ms to 10 s */
  buckets?: readonly number[];
}

/** The part of an {@link SseServer} the metrics read at scrape time. @public */
export type ObservableServer = Pick<SseServer, 'stats' | 'health'>;

/** What {@link createMetrics} returns. @public */
export interface EventrailMetrics {
  /**
   * Pass as the server's `hooks` (or through {@link combineHooks} with your own): they time each
   * event from publish to write. They work for any number of servers.
   */
  readonly hooks: ServerHooks<Principal>;
  /**
   * Reads `server.stats()` and `server.health()` at every scrape; several servers add up. Returns
   * a function that stops observing it: its counts so far stay in the counters.
   */
  observe(server: ObservableServer): () => void;
}

/** The default histogram buckets: 1 ms to 10 s. @public */
export const LATENCY_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

type CountName = 'eventsIn' | 'eventsOut' | 'replayed' | 'resyncs' | 'dropped';
type Totals = { -readonly [K in CountName]: SseServerStats[K] } & {
  disconnects: Record<DisconnectReason, number>;
  refused: Record<RefusalReason, number>;
  /** `historyReads.sent` and `historyReads.shared`, which only grow. */
  historyReads: { sent: number; shared: number };
};

const COUNTS: readonly CountName[] = ['eventsIn', 'eventsOut', 'replayed', 'resyncs', 'dropped'];

function zero(): Totals {
  return {
    eventsIn: 0,
    eventsOut: 0,
    replayed: 0,
    resyncs: 0,
    dropped: 0,
    disconnects: zeroDisconnects(),
    refused: zeroRefusals(),
    historyReads: { sent: 0, shared: 0 },
  };
}

const REASONS = Object.keys(zero().disconnects) as readonly DisconnectReason[];
const REFUSALS = Object.keys(zero().refused) as readonly RefusalReason[];

function add(into: Totals, stats: SseServerStats): void {
  for (const name of COUNTS) into[name] += stats[name];
  for (const reason of REASONS) into.disconnects[reason] += stats.disconnects[reason] ?? 0;
  for (const reason of REFUSALS) into.refused[reason] += stats.refused?.[reason] ?? 0;
  into.historyReads.sent += stats.historyReads?.sent ?? 0;
  into.historyReads.shared += stats.historyReads?.shared ?? 0;
}

/**
 * Prometheus metrics of one or more SSE servers. Gauges and counters are read from
 * `server.stats()` and `server.health()` when Prometheus scrapes (nothing is counted twice);
 * the hooks feed the publish-to-write latency histogram. Labels are bounded: the only one is the
 * disconnect `reason`; no scope id, channel, user or event name ever becomes a label.
 *
 * Metrics (with the default prefix): `eventrail_connections`, `eventrail_hubs`,
 * `eventrail_broker_up`, `eventrail_broker_silent_shards`, `eventrail_events_in_total`, `eventrail_event_writes_total`,
 * `eventrail_events_replayed_total`, `eventrail_resyncs_total`, `eventrail_events_dropped_total`,
 * `eventrail_disconnects_total{reason}`, `eventrail_streams_opening`,
 * `eventrail_streams_refused_total{reason}`, `eventrail_history_reads_total`,
 * `eventrail_history_reads_shared_total`, `eventrail_history_reads_running`,
 * `eventrail_history_reads_queued`, `eventrail_history_reads_peak` and
 * `eventrail_publish_to_write_seconds`.
 *
 * On several workers of one box (node:cluster), prom-client's `AggregatorRegistry` in the primary
 * adds them up in one scrape: sums, except `broker_up` (the lowest: 1 when every worker receives)
 * and `broker_silent_shards` and `history_reads_peak` (the highest).
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * import { createMetrics } from 'eventrail/metrics';
 *
 * const registry = new Registry();
 * const metrics = createMetrics({ registry });
 * const sse = createSseServer({ broker, resolver, router, hooks: metrics.hooks });
 * metrics.observe(sse);
 * // GET /metrics:
 * res.writeHead(200, { 'Content-Type': registry.contentType }).end(await registry.metrics());
 * ```
 * @throws when the registry already holds metrics of these names (one `createMetrics` per
 * registry and prefix).
 * @public
 */
export function createMetrics(options: MetricsOptions = {}): EventrailMetrics {
  const registers = [options.registry ?? globalRegistry];
  const prefix = options.prefix ?? 'eventrail_';
  const servers = new Set<ObservableServer>();
  /** Final counts of servers no longer observed, so that counters never go down. */
  const retired = zero();

  function totals(): Totals {
    const sum = {
      ...retired,
      disconnects: { ...retired.disconnects },
      refused: { ...retired.refused },
      historyReads: { ...retired.historyReads },
    };
    for (const server of servers) add(sum, server.stats());
    return sum;
  }

  defineGauges(prefix, registers, servers);
  defineCounters(prefix, registers, totals);

  const latency = new Histogram({
    name: `${prefix}publish_to_write_seconds`,
    help: 'Time from an event being published (broker clock) to its write to local streams.',
    buckets: [...(options.buckets ?? LATENCY_BUCKETS)],
    registers,
  });

  return {
    hooks: {
      onEventBroadcast(_event, _channel, recipients, publishedAt) {
        // Nothing written (no recipient here), or no timestamp (a broker without history).
        if (publishedAt === undefined || recipients === 0) return;
        // Clocks of different hosts disagree a little: never a negative latency.
        latency.observe(Math.max(0, Date.now() - publishedAt) / 1000);
      },
    },
    observe(server) {
      servers.add(server);
      return () => {
        if (servers.delete(server)) add(retired, server.stats());
      };
    },
  };
}

/** The registries metrics are registered in. */
type Registers = Array<Registry | Registry<OpenMetricsContentType>>;

/** The gauges: read from the observed servers at scrape time. */
function defineGauges(
  prefix: string,
  registers: Registers,
  servers: ReadonlySet<ObservableServer>,
): void {
  // `aggregator`: how prom-client's AggregatorRegistry adds up the workers of a box (node:cluster,
  // eventrail/cluster): one scrape of the primary gives the box's sums.
  const gauge = (
    name: string,
    help: string,
    read: () => number,
    aggregator: 'sum' | 'min' | 'max' = 'sum',
  ): void => {
    new Gauge({
      name: prefix + name,
      help,
      registers,
      aggregator,
      collect(this: Gauge) {
        this.set(read());
      },
    });
  };
  const sumOf = (read: (server: ObservableServer) => number) => () => {
    let n = 0;
    for (const server of servers) n += read(server);
    return n;
  };
  gauge(
    'connections',
    'Open SSE streams.',
    sumOf((s) => s.stats().connections),
  );
  gauge(
    'hubs',
    'Scopes with a live broker subscription.',
    sumOf((s) => s.stats().hubs),
  );
  gauge(
    'streams_opening',
    'New streams waiting for the broker (each at most openTimeoutMs).',
    sumOf((s) => s.stats().opening ?? 0),
  );
  gauge(
    'broker_up',
    '1 when the broker subscription really receives, else 0.',
    () => {
      if (servers.size === 0) return 0;
      for (const server of servers) if (server.health().broker !== 'ready') return 0;
      return 1;
    },
    'min', // a box is up when every worker is
  );
  gauge(
    'broker_silent_shards',
    'Broker shards (Redis Cluster masters) whose subscription receives nothing; health().silentShards names them.',
    () => {
      // A master silent for several servers is one shard.
      const silent = new Set<string>();
      for (const server of servers)
        for (const shard of server.health().silentShards ?? []) silent.add(shard);
      return silent.size;
    },
    'max', // the workers of a box share the shards
  );
  gauge(
    'history_reads_running',
    'History reads running now (replays, recoveries, start positions).',
    sumOf((s) => s.stats().historyReads?.running ?? 0),
  );
  gauge(
    'history_reads_queued',
    'History reads waiting for a free slot (maxConcurrentHistoryReads) now.',
    sumOf((s) => s.stats().historyReads?.queued ?? 0),
  );
  gauge(
    'history_reads_peak',
    'The most history reads that ran at once in one process.',
    () => {
      let peak = 0;
      for (const server of servers) peak = Math.max(peak, server.stats().historyReads?.peak ?? 0);
      return peak;
    },
    'max',
  );
}

/** The counters: the totals of the observed servers (and retired ones), set at scrape time. */
function defineCounters(prefix: string, registers: Registers, totals: () => Totals): void {
  // Counters mirror the servers' monotonic counts: set at scrape time, never incremented here.
  const counter = (name: string, help: string, read: (t: Totals) => number): void => {
    new Counter({
      name: prefix + name,
      help,
      registers,
      collect(this: Counter) {
        this.reset();
        this.inc(read(totals()));
      },
    });
  };
  counter('events_in_total', 'Events received from the broker (once each).', (t) => t.eventsIn);
  counter('event_writes_total', 'Event writes to streams (one per recipient).', (t) => t.eventsOut);
  counter(
    'events_replayed_total',
    'Events written by replays after a reconnect.',
    (t) => t.replayed,
  );
  counter('resyncs_total', 'Resync events written.', (t) => t.resyncs);
  counter('events_dropped_total', 'Events skipped or merged for slow clients.', (t) => t.dropped);
  counter('history_reads_total', 'History reads sent to the broker.', (t) => t.historyReads.sent);
  counter(
    'history_reads_shared_total',
    'History reads answered by an identical read another stream asked for (not sent).',
    (t) => t.historyReads.shared,
  );
  // Counts by reason, the only label: a bounded set of values.
  const byReason = (
    name: string,
    help: string,
    read: (totals: Totals) => Readonly<Record<string, number>>,
  ): void => {
    new Counter({
      name: prefix + name,
      help,
      labelNames: ['reason'],
      registers,
      collect(this: Counter<'reason'>) {
        this.reset();
        for (const [reason, count] of Object.entries(read(totals()))) this.inc({ reason }, count);
      },
    });
  };
  byReason('disconnects_total', 'Streams ended, by reason.', (t) => t.disconnects);
  byReason(
    'streams_refused_total',
    'Requests answered with only a retry (the broker did not serve them, a limit, closing).',
    (t) => t.refused,
  );
}
