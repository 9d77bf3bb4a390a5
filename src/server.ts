import { fetchRequest, fetchTransport } from './adapters/fetch.js';
import {
  type NodeRequest,
  type NodeResponse,
  nodeRequest,
  nodeTransport,
} from './adapters/node.js';
import { type FetchServerLike, keepStreamOpen } from './adapters/runtime-idle.js';
import type { HeaderRecord } from './adapters/transport.js';
import type { Connection } from './fanout/connection.js';
import { Delivery } from './fanout/delivery.js';
import { HEARTBEAT, HeartbeatWheel } from './fanout/heartbeat.js';
import { type HistoryReadStats, SharedHistoryReads } from './fanout/history-reads.js';
import { Subscriptions } from './fanout/subscriptions.js';
import { Fleet } from './fleet/fleet.js';
import { resolveFleet } from './fleet/options.js';
import type { ScopePresence } from './fleet/presence.js';
import { resolveOptions, type SseServerOptions } from './options.js';
import { createPublisher } from './publisher.js';
import { Admission } from './server/admission.js';
import { OpeningRate } from './server/opening-rate.js';
import { Openings } from './server/openings.js';
import { RequestPipeline } from './server/pipeline.js';
import { ConnectionRegistry } from './server/registry.js';
import { Reporter } from './server/reporter.js';
import { jitteredRetry } from './server/retry-answer.js';
import { shutDown } from './server/shutdown.js';
import { type PositionSubject, startPosition } from './server/start-position.js';
import { ServerCounters, type SseServerStats } from './server/stats.js';
import type { BrokerState, Principal, Publisher } from './types.js';
import { formatRetry } from './wire/sse-format.js';

export type { RefusalReason, SseServerStats } from './server/stats.js';

/** What a health check needs: serving, and really receiving from the broker. @public */
export interface SseServerHealth {
  /**
   * True when the server is open, its broker subscription receives (`broker` is `ready`) and no
   * shard is silent.
   */
  readonly ok: boolean;
  readonly broker: BrokerState;
  /**
   * Which of the broker's shards do not receive, when `ok` is false because of one: on a Redis
   * Cluster the masters (`host:port`) that missed the last liveness probe, until the broker's
   * subscription is replaced or a probe comes back. Empty otherwise, and for brokers without
   * shards (see {@link Broker.silentShards}).
   */
  readonly silentShards: readonly string[];
  readonly closed: boolean;
}

/**
 * An SSE endpoint bound to a broker. Mount `handler` (node:http, Express, Koa, Fastify) or `fetch`
 * (Hono and other Web-standard servers) on your events route.
 * @public
 */
export interface SseServer<P extends Principal = Principal> {
  /** `(req, res)` handler for node:http (and everything built on it) and node:http2. */
  readonly handler: (req: NodeRequest, res: NodeResponse) => Promise<void>;
  /**
   * `(Request) => Response` handler for fetch-style servers. On Bun pass `Bun.serve`'s server as
   * `server` (`fetch: (request, server) => sse.fetch(request, server)`, or `fetch: sse.fetch`):
   * each stream then lifts Bun's idle timeout, which would otherwise cut a quiet stream after
   * 10 s. Any other second argument (Deno's connection info, Hono's bindings) is ignored unless
   * it has a {@link FetchServerLike} `timeout` method.
   * @throws EventrailError `unsupported-runtime` on Bun without `server`, unless `heartbeatMs` is
   * under 10 000.
   */
  readonly fetch: (request: Request, server?: unknown) => Promise<Response>;
  /** Publishes through the server's broker. */
  readonly publisher: Publisher;
  /** True once `close()` was called or the signal aborted. */
  readonly closed: boolean;
  /** Counts for dashboards (and the `eventrail/metrics` exporter). */
  stats(): SseServerStats;
  /** For a health endpoint: answer 503 when `ok` is false. */
  health(): SseServerHealth;
  /**
   * The render position: the `Last-Event-ID` a stream of this principal (or of the principal the
   * resolver makes of this request) opened right now would start from, over all its scopes. Put
   * it in the page you render (`<meta name="eventrail-position">` for `eventrail/client`,
   * `?lastEventId=` on the events URL for htmx-ext-sse or a plain `EventSource`): the stream then
   * opens from there and replays what was published in between (or resyncs once), so a change
   * made between the render and the stream is never lost.
   *
   * Cost: one position read per scope, all sent at once — on Redis one round trip (one command per
   * scope, pipelined; per shard on a cluster), on the memory broker none. A scope with no history
   * yet gets its first (marker) entry, as a stream opening does. Resolves `undefined` when there
   * is no id to give: the broker keeps no history, the principal has no routes, or the id of its
   * scopes would be too long for the wire.
   * @throws {@link EventrailError} `unauthorized` when the resolver refuses the request,
   * `invalid-pattern` or `limit-exceeded` for the router's answer, `broker-error` when a position
   * cannot be read.
   */
  lastEventId(who: P | Request | NodeRequest): Promise<string | undefined>;
  /**
   * Who is connected to the scope `gym:1` on every instance of the fleet (each user once,
   * whatever its tabs and instances). Needs the `presence` option; one read of the broker.
   * @throws {@link EventrailError} `invalid-option` when presence is off, `invalid-channel` for a
   *   bad scope, `broker-error` when the broker cannot be read.
   */
  presence(scope: string): Promise<ScopePresence>;
  /**
   * Ends every open stream, releases every broker subscription and stops the heartbeat. Resolves
   * when done; safe to call twice. The broker itself stays open (close it after the server).
   */
  close(): Promise<void>;
}

const SSE_HEADERS: HeaderRecord = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
};

/** The history read stats of a server without a history. */
const NO_READS: HistoryReadStats = { sent: 0, shared: 0, running: 0, queued: 0, peak: 0 };

/** Room in a broker message for eventrail's own fields (origin, trace context, history id). */
const MESSAGE_OVERHEAD = 2048;

/** A server's health from its broker's state, its silent shards and whether it is closing. */
function healthOf(
  broker: BrokerState,
  silent: readonly string[],
  closed: boolean,
): SseServerHealth {
  return {
    ok: !closed && broker === 'ready' && silent.length === 0,
    broker,
    silentShards: silent,
    closed,
  };
}

/**
 * Creates the SSE server: the Go eventrail's `sse.NewServer`.
 *
 * @example
 * ```ts
 * const server = createSseServer({
 *   broker: createRedisBroker({ url: process.env.REDIS_URL }),
 *   resolver: (req) => sessionPrincipal(req.headers.get('cookie')),
 *   router: (p) => [`gym:${p.scopeId}:*`],
 *   eventNamePrefix: 'app',
 * });
 * app.get('/events', server.handler);
 * ```
 * @throws {@link EventrailError} `invalid-option` when an option cannot work; the message says how to fix it.
 * @public
 */
export function createSseServer<P extends Principal = Principal>(
  options: SseServerOptions<P>,
): SseServer<P> {
  const config = resolveOptions(options);
  const { limits } = config;
  // Every read of the history goes through one door: bounded, identical reads shared.
  const history =
    config.broker.history &&
    new SharedHistoryReads(config.broker.history, limits.maxConcurrentHistoryReads);
  const headers: HeaderRecord = { ...config.headers, ...SSE_HEADERS };
  const retryChunk = Buffer.from(formatRetry(config.retryMs));
  const bufferLimits = {
    bufferSize: config.bufferSize,
    maxBufferedBytes: limits.maxBufferedBytes,
    maxStallMs: limits.maxStallMs,
    policy: config.backpressure,
  };
  const reporter = new Reporter<P>(config.hooks, config.logger, config.outageReminderMs);
  const { report } = reporter;
  const counters = new ServerCounters();
  const admission = new Admission(limits);
  const openings = new Openings(config.openTimeoutMs);
  const openingRate = new OpeningRate(limits.maxOpeningsPerSecond);
  const brokerState = (): BrokerState => config.broker.state?.() ?? 'ready';
  const silentShards = (): readonly string[] => [...(config.broker.silentShards?.() ?? [])];
  let closing: Promise<void> | undefined;

  /** A `retry:` spread over the drain jitter, so that drained browsers do not return at once. */
  const drainRetry = (): Buffer => jitteredRetry(config.retryMs, config.drainJitterMs);
  const registry = new ConnectionRegistry<P>(limits.maxConnectionLifetimeMs, (connection) =>
    connection.close('expired', drainRetry()),
  );

  const delivery = new Delivery<P>({
    prefix: config.eventNamePrefix,
    encoder: config.encoder,
    tracing: config.tracing,
    history,
    maxMessageLength: limits.maxPayloadBytes + MESSAGE_OVERHEAD,
    report,
    broadcast: (event, channel, recipients, publishedAt) => {
      counters.broadcast(recipients);
      reporter.hook('onEventBroadcast', event, channel, recipients, publishedAt);
    },
    replayed: (n) => counters.replayed(n),
  });

  const subscriptions = new Subscriptions<P>(
    config.broker,
    config.hubIdleTimeoutMs,
    {
      onMessage: (hub, message) => {
        if (!fleet.control(hub, message)) delivery.deliver(hub, message);
      },
      onGap: (hub) => void delivery.recover(hub),
      onHubStarted: (key) => reporter.hook('onHubStarted', key),
      onHubStopped: (key) => reporter.hook('onHubStopped', key),
      onError: report,
    },
    history,
  );

  // Revocation and presence: the control messages of the scopes, and this instance's presence.
  const fleet = new Fleet<P>({
    broker: config.broker,
    options: resolveFleet(options),
    resolver: config.resolver,
    router: config.router,
    maxRoutes: limits.maxRoutesPerPrincipal,
    revoke: (connection) => connection.close('revoked', retryChunk),
    report,
  });

  // One timer for every stream's heartbeat; a stream that receives events gets none.
  const heartbeat =
    config.heartbeatMs > 0
      ? new HeartbeatWheel<Connection<P>>(config.heartbeatMs, HEARTBEAT)
      : undefined;

  const pipeline = new RequestPipeline<P>({
    config,
    headers,
    retryChunk,
    bufferLimits,
    history,
    reporter,
    counters,
    admission,
    openings,
    registry,
    subscriptions,
    delivery,
    heartbeat,
    closing: () => closing !== undefined,
    drainRetry,
    fleet,
    openingRate,
  });
  const onAbort = (): void => void server.close();
  // The server's broker is closed by its owner, after the server: no close() on its publisher.
  const { publishEvent, publishType, revoke } = createPublisher({
    broker: config.broker,
    maxPayloadBytes: limits.maxPayloadBytes,
    tracing: config.tracing,
  });
  const publisher: Publisher = { publishEvent, publishType, revoke };

  const positionContext = {
    resolver: config.resolver,
    router: config.router,
    maxRoutes: limits.maxRoutesPerPrincipal,
    read: history && ((key: string) => delivery.position(key)),
  };

  const server: SseServer<P> = {
    handler: (req, res) => pipeline.handle(nodeRequest(req), nodeTransport(req, res)),
    fetch: async (request, fetchServer) => {
      keepStreamOpen(request, fetchServer, config.heartbeatMs);
      return pipeline.handle(fetchRequest(request), fetchTransport(request));
    },
    publisher,
    get closed() {
      return closing !== undefined;
    },
    stats: () =>
      counters.snapshot({
        connections: registry.size,
        hubs: subscriptions.size,
        opening: openings.size,
        broker: brokerState(),
        silentShards: silentShards(),
        historyReads: history?.stats() ?? NO_READS,
      }),
    health: () => healthOf(brokerState(), silentShards(), closing !== undefined),
    lastEventId: (who: PositionSubject<P>) => startPosition(positionContext, who),
    presence: (scope) => fleet.presence(scope),
    close() {
      closing ??= (async () => {
        config.signal?.removeEventListener('abort', onAbort);
        await shutDown({
          registry,
          fleet,
          openings,
          drainWindowMs: config.drainWindowMs,
          drainRetry,
          heartbeat,
          subscriptions,
        });
      })();
      return closing;
    },
  };

  if (config.signal?.aborted) void server.close();
  else config.signal?.addEventListener('abort', onAbort, { once: true });
  return server;
}
