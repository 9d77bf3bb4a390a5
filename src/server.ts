import { fetchRequest, fetchTransport } from './adapters/fetch.js';
import {
  type NodeRequest,
  type NodeResponse,
  nodeRequest,
  nodeTransport,
} from './adapters/node.js';
import type { HeaderRecord, Transport } from './adapters/transport.js';
import { EventrailError } from './errors.js';
import { Connection, type ConnectionOwner } from './fanout/connection.js';
import { Delivery } from './fanout/delivery.js';
import { HEARTBEAT, HeartbeatWheel } from './fanout/heartbeat.js';
import { type HistoryReadStats, SharedHistoryReads } from './fanout/history-reads.js';
import type { Hub } from './fanout/hub.js';
import { buildRouteTable } from './fanout/routes.js';
import { Subscriptions } from './fanout/subscriptions.js';
import { resolveOptions, type SseServerOptions } from './options.js';
import { createPublisher } from './publisher.js';
import { Admission, type LimitName } from './server/admission.js';
import { connectionId } from './server/connection-id.js';
import { corsHeaders } from './server/cors.js';
import { Openings } from './server/openings.js';
import { ConnectionRegistry } from './server/registry.js';
import { Reporter } from './server/reporter.js';
import { answerRetry, jitteredRetry } from './server/retry-answer.js';
import {
  type PositionSubject,
  readPositions,
  resolvePrincipal,
  startPosition,
} from './server/start-position.js';
import { ServerCounters, type SseServerStats } from './server/stats.js';
import type { BrokerState, Principal, Publisher, SseRequest } from './types.js';
import { abortable } from './util/abortable.js';
import { type Position, parseEventId, scopeTag } from './wire/event-ids.js';
import { CONNECTED_EVENT, LAST_EVENT_ID_PARAM } from './wire/protocol.js';
import { formatEvent, formatRetry } from './wire/sse-format.js';

export type { RefusalReason, SseServerStats } from './server/stats.js';

type RouteTableResult = ReturnType<typeof buildRouteTable>;

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
  /** `(Request) => Response` handler for fetch-style servers. */
  readonly fetch: (request: Request) => Promise<Response>;
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
      counters.eventsIn++;
      counters.eventsOut += recipients;
      reporter.hook('onEventBroadcast', event, channel, recipients, publishedAt);
    },
    replayed: (n) => {
      counters.replayed += n;
    },
  });

  const subscriptions = new Subscriptions<P>(
    config.broker,
    config.hubIdleTimeoutMs,
    {
      onMessage: (hub, message) => delivery.deliver(hub, message),
      onGap: (hub) => void delivery.recover(hub),
      onHubStarted: (key) => reporter.hook('onHubStarted', key),
      onHubStopped: (key) => reporter.hook('onHubStopped', key),
      onError: report,
    },
    history,
  );

  // One timer for every stream's heartbeat; a stream that receives events gets none.
  const heartbeat =
    config.heartbeatMs > 0
      ? new HeartbeatWheel<Connection<P>>(config.heartbeatMs, HEARTBEAT)
      : undefined;

  const owner: ConnectionOwner<P> = {
    clock: heartbeat ?? { tick: 0 },
    onBackpressure(connection, action, event) {
      if (action !== 'disconnect') counters.dropped++;
      reporter.hook('onClientDropped', connection, action, event);
    },
    onResync() {
      counters.resyncs++;
    },
    onError: report,
    onClosed(connection, reason) {
      const memberships = registry.remove(connection);
      if (memberships === undefined) return;
      heartbeat?.remove(connection);
      admission.unadmit(Admission.key(connection.principal));
      for (const { hub, topics } of memberships) {
        hub.remove(connection, topics);
        subscriptions.release(hub);
      }
      if (!connection.opened) return;
      counters.disconnects[reason]++;
      reporter.debug({ connectionId: connection.id, reason }, 'eventrail: client disconnected');
      reporter.hook('onClientDisconnect', connection, reason);
    },
  };

  /**
   * The server is closing: a request that arrives now gets `retry: retryMs`, one that was still
   * waiting for the broker a drain retry like the open streams; both come back elsewhere.
   */
  function refuseClosing<R>(transport: Transport<R>, extra: HeaderRecord, retry: Uint8Array): R {
    counters.refused.closing++;
    return answerRetry(transport, { ...headers, ...extra }, retry);
  }

  /** A refusal by a connection limit: come back much later, spread out; never a status that stops the browser. */
  function refuseForLimit<R>(transport: Transport<R>, what: LimitName, extra: HeaderRecord): R {
    counters.refused[what]++;
    report(
      new EventrailError('limit-exceeded', `${what}: a connection was refused (it retries later).`),
    );
    const retry = jitteredRetry(limits.limitRetryMs, limits.limitRetryMs / 2, what);
    return answerRetry(transport, { ...headers, ...extra }, retry);
  }

  /**
   * Answers a request the broker did not serve in time (or the server is closing): a jittered
   * `retry:` and the end of the stream. The browser comes back later, maybe to another instance.
   */
  function refuseForBroker<R>(transport: Transport<R>, err: unknown, extra: HeaderRecord): R {
    if (closing) return refuseClosing(transport, extra, drainRetry());
    counters.refused.broker++;
    reporter.brokerRefused(err);
    return answerRetry(transport, { ...headers, ...extra }, drainRetry());
  }

  async function acquireAll(keys: readonly string[], signal: AbortSignal): Promise<Hub<P>[]> {
    // One wait on `signal` for all the scopes, not one each (11 would warn of a listener leak).
    const settled = await abortable(
      Promise.allSettled(keys.map((key) => subscriptions.acquire(key))),
      signal,
      (results) => results,
      (late) => {
        for (const result of late)
          if (result.status === 'fulfilled') subscriptions.release(result.value);
      },
    );
    const hubs: Hub<P>[] = [];
    let failure: unknown;
    for (const result of settled) {
      if (result.status === 'fulfilled') hubs.push(result.value);
      else failure ??= result.reason;
    }
    if (failure !== undefined) {
      for (const hub of hubs) subscriptions.release(hub);
      throw failure;
    }
    return hubs;
  }

  /**
   * Where a new connection starts: its Last-Event-ID, else the scopes' newest positions. Rejects
   * when the broker cannot tell them in time (`signal` aborts) or fails to: the request is then
   * told to retry, rather than opened without ids it could resume from.
   */
  async function startPositions(
    hubs: readonly Hub<P>[],
    resume: Position[] | undefined,
    signal: AbortSignal,
  ) {
    if (!history) return undefined;
    if (resume) return resume.slice();
    const reading = readPositions(
      hubs.map((hub) => hub.key),
      (key) => delivery.position(key),
    );
    // Read on in the background when the wait is over: its failure then has nobody to tell.
    reading.catch(() => {});
    return abortable(
      reading,
      signal,
      (positions) => positions,
      () => {},
    );
  }

  /** The request pipeline: origin, method, principal, routes, limits, then the stream. */
  async function handle<R>(request: SseRequest, transport: Transport<R>): Promise<R> {
    if (closing) return refuseClosing(transport, {}, retryChunk);
    // A foreign origin is refused before anything is resolved, subscribed or counted.
    const cors = corsHeaders(transport.header('origin'), limits);
    if (cors === null) return transport.reject(403, {}, 'Forbidden\n');
    if (request.method !== 'GET') {
      return transport.reject(405, { ...cors, Allow: 'GET' }, 'Method Not Allowed\n');
    }
    let principal: P;
    try {
      principal = await resolvePrincipal(config.resolver, request);
    } catch (err) {
      report(err);
      return transport.reject(401, {}, 'Unauthorized\n');
    }
    let routes: RouteTableResult;
    try {
      routes = buildRouteTable(config.router(principal), limits.maxRoutesPerPrincipal);
    } catch (err) {
      report(err);
      return transport.reject(500, cors, 'Internal Server Error\n');
    }
    // Nothing to receive: 204 tells the browser to stop reconnecting.
    if (routes.table.size === 0) return transport.reject(204, cors, '');
    const key = Admission.key(principal);
    const limit = admission.refusal(key);
    if (limit !== null) return refuseForLimit(transport, limit, cors);
    // Counted from here, before any await, so that concurrent requests cannot overshoot.
    admission.admit(key);
    const opening = openings.begin();
    try {
      return await open(transport, principal, routes, key, cors, opening.signal);
    } finally {
      opening.done();
    }
  }

  /** Subscribes, reads the start positions and opens the stream; the waits end with `signal`. */
  async function open<R>(
    transport: Transport<R>,
    principal: P,
    routes: RouteTableResult,
    key: string,
    cors: HeaderRecord,
    signal: AbortSignal,
  ): Promise<R> {
    const keys = [...routes.table.keys()].sort();
    let hubs: Hub<P>[];
    try {
      hubs = await acquireAll(keys, signal);
    } catch (err) {
      admission.unadmit(key);
      return refuseForBroker(transport, err, cors);
    }
    // One scope (the common case): the hub's own tag, shared by all its connections.
    const tag = hubs.length === 1 ? (hubs[0] as Hub<P>).idTag : scopeTag(keys);
    const lastEventId = transport.header('last-event-id') ?? transport.query(LAST_EVENT_ID_PARAM);
    const resume = history && lastEventId ? parseEventId(lastEventId, tag, keys.length) : undefined;
    const id = connectionId();
    const connection = new Connection(
      id,
      principal,
      routes.patterns,
      hubs.length === 1 ? (hubs[0] as Hub<P>).keys : keys,
      tag,
      bufferLimits,
      owner,
    );
    // Join the hubs before reading positions: live events are held from here on, none is missed.
    const memberships = hubs.map((hub, scope) => {
      const topics = routes.table.get(hub.key) ?? null;
      hub.add(connection, topics, scope);
      return { hub, topics };
    });
    registry.add(connection, memberships);
    try {
      connection.startAt(await startPositions(hubs, resume, signal));
    } catch (err) {
      connection.peerClosed();
      return refuseForBroker(transport, err, cors);
    }
    if (closing || transport.aborted) {
      connection.peerClosed();
      return closing ? refuseClosing(transport, cors, drainRetry()) : transport.reject(499, {}, '');
    }
    reporter.brokerServed();
    const hello = formatEvent({
      name: CONNECTED_EVENT,
      data: `{"connectionId":"${id}"}`,
      id: connection.eventId(),
    });
    const { sink, result } = transport.open(
      { ...headers, ...cors },
      Buffer.concat([retryChunk, Buffer.from(hello)]),
      connection,
    );
    connection.attach(sink);
    heartbeat?.add(connection);
    reporter.debug(
      { connectionId: id, userId: principal.userId, scopeId: principal.scopeId },
      'eventrail: client connected',
    );
    reporter.hook('onClientConnect', connection);
    // An id we cannot use (malformed, foreign, too old a format): the client must refresh.
    if (history && lastEventId && !resume) connection.resync();
    delivery.catchUp(connection, hubs, routes.table, resume).catch((err: unknown) => {
      report(err);
      connection.close('error');
    });
    return result;
  }

  const onAbort = (): void => void server.close();
  // The server's broker is closed by its owner, after the server: no close() on its publisher.
  const { publishEvent, publishType } = createPublisher({
    broker: config.broker,
    maxPayloadBytes: limits.maxPayloadBytes,
    tracing: config.tracing,
  });
  const publisher: Publisher = { publishEvent, publishType };

  const positionContext = {
    resolver: config.resolver,
    router: config.router,
    maxRoutes: limits.maxRoutesPerPrincipal,
    read: history && ((key: string) => delivery.position(key)),
  };

  const server: SseServer<P> = {
    handler: (req, res) => handle(nodeRequest(req), nodeTransport(req, res)),
    fetch: (request) => handle(fetchRequest(request), fetchTransport(request)),
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
    health() {
      const broker = brokerState();
      const silent = silentShards();
      const closed = closing !== undefined;
      return {
        ok: !closed && broker === 'ready' && silent.length === 0,
        broker,
        silentShards: silent,
        closed,
      };
    },
    lastEventId: (who: PositionSubject<P>) => startPosition(positionContext, who),
    close() {
      closing ??= (async () => {
        config.signal?.removeEventListener('abort', onAbort);
        heartbeat?.stop();
        registry.stop();
        // Requests still waiting for the broker are answered now, with a retry.
        openings.abortAll();
        // Drain: each browser gets its own retry delay and comes back (elsewhere) with its id.
        for (const connection of registry.all()) connection.close('server-closed', drainRetry());
        await subscriptions.closeAll();
      })();
      return closing;
    },
  };

  if (config.signal?.aborted) void server.close();
  else config.signal?.addEventListener('abort', onAbort, { once: true });
  return server;
}
