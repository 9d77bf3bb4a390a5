import { abortable } from './abortable.js';
import { fetchRequest, fetchTransport } from './adapters/fetch.js';
import {
  type NodeRequest,
  type NodeResponse,
  nodeRequest,
  nodeTransport,
} from './adapters/node.js';
import type { HeaderRecord, Transport } from './adapters/transport.js';
import { Connection, type ConnectionOwner, HEARTBEAT } from './connection.js';
import { connectionId } from './connection-id.js';
import { Delivery } from './delivery.js';
import { formatEvent, formatRetry } from './encoder.js';
import { EventrailError, type EventrailErrorCode } from './errors.js';
import { HeartbeatWheel } from './heartbeat.js';
import { allPositions, type Position, parseEventId, scopeTag } from './history.js';
import type { Hub } from './hub.js';
import { Openings } from './openings.js';
import { resolveOptions, type SseServerOptions } from './options.js';
import { Outage, seconds } from './outage.js';
import { CONNECTED_EVENT, LAST_EVENT_ID_PARAM } from './protocol.js';
import { createPublisher } from './publisher.js';
import { buildRouteTable } from './routes.js';
import { Subscriptions } from './subscriptions.js';
import type {
  BrokerState,
  DisconnectReason,
  Principal,
  Publisher,
  ServerHooks,
  SseRequest,
} from './types.js';

/** A point-in-time view of one server. @public */
export interface SseServerStats {
  /** Open SSE streams on this instance. */
  readonly connections: number;
  /** Scopes with a live broker subscription (one broker pattern each). */
  readonly hubs: number;
  /**
   * Broker pattern subscriptions this instance holds (`gym:1:*`): one per scope, whatever the
   * number of clients or routes (on Redis, this server's share of `PUBSUB NUMPAT`).
   */
  readonly patterns: number;
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
   * broker did not serve them within `openTimeoutMs`), a connection limit, or `closing`.
   */
  readonly refused: Readonly<Record<RefusalReason, number>>;
  /** The broker's own view of its subscription ({@link Broker.state}); `ready` when it has none. */
  readonly broker: BrokerState;
}

/** Why a request was answered with only a `retry:`. @public */
export type RefusalReason = 'broker' | 'maxConnections' | 'maxConnectionsPerPrincipal' | 'closing';

/** What a health check needs: serving, and really receiving from the broker. @public */
export interface SseServerHealth {
  /** True when the server is open and its broker subscription receives. */
  readonly ok: boolean;
  readonly broker: BrokerState;
  readonly closed: boolean;
}

/**
 * An SSE endpoint bound to a broker. Mount `handler` (node:http, Express, Koa, Fastify) or `fetch`
 * (Hono and other Web-standard servers) on your events route.
 * @public
 */
export interface SseServer {
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
   * Ends every open stream, releases every broker subscription and stops the heartbeat. Resolves
   * when done; safe to call twice. The broker itself stays open (close it after the server).
   */
  close(): Promise<void>;
}

interface Membership<P extends Principal> {
  readonly hub: Hub<P>;
  readonly topics: ReadonlySet<string> | null;
}

const SSE_HEADERS: HeaderRecord = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
};

/** Room in a broker message for eventrail's own fields (origin, trace context, history id). */
const MESSAGE_OVERHEAD = 2048;

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
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
): SseServer {
  const config = resolveOptions(options);
  const { hooks } = config;
  const history = config.broker.history;
  const headers: HeaderRecord = { ...config.headers, ...SSE_HEADERS };
  const retryChunk = Buffer.from(formatRetry(config.retryMs));
  const connections = new Map<Connection<P>, Membership<P>[]>();
  const { limits } = config;
  const bufferLimits = {
    bufferSize: config.bufferSize,
    maxBufferedBytes: limits.maxBufferedBytes,
    policy: config.backpressure,
  };
  /** Open (and opening) streams per principal, for `maxConnectionsPerPrincipal`. */
  const perPrincipal = new Map<string, number>();
  /** Admitted streams, open or still opening, for `maxConnections`. */
  let admitted = 0;
  const principalKey = (p: Principal): string => `${p.scopeId}\u0000${p.userId}`;

  function admit(key: string): void {
    admitted++;
    perPrincipal.set(key, (perPrincipal.get(key) ?? 0) + 1);
  }

  function unadmit(key: string): void {
    admitted--;
    const held = (perPrincipal.get(key) ?? 1) - 1;
    if (held > 0) perPrincipal.set(key, held);
    else perPrincipal.delete(key);
  }
  let closing: Promise<void> | undefined;
  const counts = { eventsIn: 0, eventsOut: 0, replayed: 0, resyncs: 0, dropped: 0 };
  const disconnects: Record<DisconnectReason, number> = {
    'client-closed': 0,
    backpressure: 0,
    'server-closed': 0,
    expired: 0,
    error: 0,
  };
  const refused: Record<RefusalReason, number> = {
    broker: 0,
    maxConnections: 0,
    maxConnectionsPerPrincipal: 0,
    closing: 0,
  };
  const brokerState = (): BrokerState => config.broker.state?.() ?? 'ready';
  const openings = new Openings(config.openTimeoutMs);

  const { logger } = config;
  // Refused logins and limits are routine (debug, warn); anything else is an error.
  const levels: Partial<Record<EventrailErrorCode, 'debug' | 'warn'>> = {
    unauthorized: 'debug',
    'limit-exceeded': 'warn',
  };

  function report(error: unknown): void {
    const err = toError(error);
    if (logger) {
      const code = err instanceof EventrailError ? err.code : undefined;
      const level = (code && levels[code]) ?? 'error';
      try {
        logger[level]({ err, code }, `eventrail: ${err.message}`);
      } catch {
        // A broken logger must not break delivery.
      }
    }
    try {
      hooks.onError?.(err);
    } catch {
      // onError itself failed: there is nobody left to tell, and a hook must never break delivery.
    }
  }

  function hook<K extends Exclude<keyof ServerHooks<P>, 'onError'>>(
    name: K,
    ...args: Parameters<NonNullable<ServerHooks<P>[K]>>
  ): void {
    const fn = hooks[name] as ((...a: typeof args) => void) | undefined;
    if (fn === undefined) return;
    try {
      fn(...args);
    } catch (err) {
      report(new EventrailError('hook-failed', `The ${name} hook threw.`, { cause: err }));
    }
  }

  // Streams refused for the broker are reported once per outage (then reminders), not per request.
  const brokerRefusals = new Outage(config.outageReminderMs, (r) => {
    if (r.kind === 'back') {
      logger?.info(
        { refused: r.failures, downForMs: r.downForMs },
        `eventrail: new streams open again after ${seconds(r.downForMs)} (${r.failures} refused meanwhile)`,
      );
      return;
    }
    const message =
      r.kind === 'down'
        ? 'A new stream was told to retry later: the broker did not serve it. Further refusals are counted in stats().refused.broker until streams open again.'
        : `${r.failures} new streams refused over ${seconds(r.downForMs)}: the broker does not serve them.`;
    report(new EventrailError('broker-error', message, { cause: r.error }));
  });

  const delivery = new Delivery<P>({
    prefix: config.eventNamePrefix,
    encoder: config.encoder,
    tracing: config.tracing,
    history,
    maxMessageLength: limits.maxPayloadBytes + MESSAGE_OVERHEAD,
    report,
    broadcast: (event, channel, recipients, publishedAt) => {
      counts.eventsIn++;
      counts.eventsOut += recipients;
      hook('onEventBroadcast', event, channel, recipients, publishedAt);
    },
    replayed: (n) => {
      counts.replayed += n;
    },
  });

  const subscriptions = new Subscriptions<P>(config.broker, config.hubIdleTimeoutMs, {
    onMessage: (hub, message) => delivery.deliver(hub, message),
    onGap: (hub) => void delivery.recover(hub),
    onHubStarted: (key) => hook('onHubStarted', key),
    onHubStopped: (key) => hook('onHubStopped', key),
    onError: report,
  });

  // One timer for every stream's heartbeat; a stream that receives events gets none.
  const heartbeat =
    config.heartbeatMs > 0
      ? new HeartbeatWheel<Connection<P>>(config.heartbeatMs, HEARTBEAT)
      : undefined;

  const owner: ConnectionOwner<P> = {
    clock: heartbeat ?? { tick: 0 },
    onBackpressure(connection, action, event) {
      if (action !== 'disconnect') counts.dropped++;
      hook('onClientDropped', connection, action, event);
    },
    onResync() {
      counts.resyncs++;
    },
    onError: report,
    onClosed(connection, reason) {
      const memberships = connections.get(connection);
      if (memberships === undefined) return;
      connections.delete(connection);
      heartbeat?.remove(connection);
      unadmit(principalKey(connection.principal));
      for (const { hub, topics } of memberships) {
        hub.remove(connection, topics);
        subscriptions.release(hub);
      }
      if (!connection.opened) return;
      disconnects[reason]++;
      logger?.debug({ connectionId: connection.id, reason }, 'eventrail: client disconnected');
      hook('onClientDisconnect', connection, reason);
    },
  };

  /** Ends the request with only a `retry:` hint: the browser comes back later (or elsewhere). */
  function retryLater<R>(
    transport: Transport<R>,
    chunk: Uint8Array = retryChunk,
    extra?: HeaderRecord,
  ): R {
    const { sink, result } = transport.open(
      extra ? { ...headers, ...extra } : headers,
      chunk,
      undefined,
    );
    sink.end();
    return result;
  }

  /** A refusal by a connection limit: come back much later, spread out; never a status that stops the browser. */
  function refuseForLimit<R>(
    transport: Transport<R>,
    what: 'maxConnections' | 'maxConnectionsPerPrincipal',
    extra: HeaderRecord,
  ): R {
    refused[what]++;
    report(
      new EventrailError('limit-exceeded', `${what}: a connection was refused (it retries later).`),
    );
    const delay = limits.limitRetryMs + Math.floor(Math.random() * (limits.limitRetryMs / 2 + 1));
    return retryLater(transport, Buffer.from(`: ${what}\n${formatRetry(delay)}`), extra);
  }

  /** CORS headers for an allowed cross-origin request; null when the origin is refused. */
  function corsHeaders(transport: Transport<unknown>): HeaderRecord | null {
    if (limits.allowedOrigins === undefined) return {};
    const origin = transport.header('origin');
    if (origin === null) return {};
    if (!limits.allowedOrigins.has(origin)) return null;
    const cors: HeaderRecord = { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
    if (limits.allowCredentials) cors['Access-Control-Allow-Credentials'] = 'true';
    return cors;
  }

  /** A `retry:` spread over the drain jitter, so that drained browsers do not return at once. */
  function drainRetry(): Buffer {
    return Buffer.from(
      formatRetry(config.retryMs + Math.floor(Math.random() * (config.drainJitterMs + 1))),
    );
  }

  /**
   * Answers a request the broker did not serve in time (or the server is closing): a jittered
   * `retry:` and the end of the stream. The browser comes back later, maybe to another instance.
   */
  function refuseForBroker<R>(transport: Transport<R>, err: unknown, extra: HeaderRecord): R {
    if (closing) refused.closing++;
    else {
      refused.broker++;
      brokerRefusals.failure(toError(err));
    }
    return retryLater(transport, drainRetry(), extra);
  }

  async function acquireAll(keys: readonly string[], signal: AbortSignal): Promise<Hub<P>[]> {
    const settled = await Promise.allSettled(keys.map((key) => subscriptions.acquire(key, signal)));
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
    const reading = Promise.all(hubs.map((hub) => delivery.position(hub.key)));
    // Read on in the background when the wait is over: its failure then has nobody to tell.
    reading.catch(() => {});
    return allPositions(
      await abortable(
        reading,
        signal,
        (positions) => positions,
        () => {},
      ),
    );
  }

  async function handle<R>(request: SseRequest, transport: Transport<R>): Promise<R> {
    if (closing) {
      refused.closing++;
      return retryLater(transport);
    }
    // A foreign origin is refused before anything is resolved, subscribed or counted.
    const cors = corsHeaders(transport);
    if (cors === null) return transport.reject(403, {}, 'Forbidden\n');
    if (request.method !== 'GET') {
      return transport.reject(405, { ...cors, Allow: 'GET' }, 'Method Not Allowed\n');
    }
    let principal: P;
    try {
      principal = await config.resolver(request);
      if (principal === null || typeof principal !== 'object')
        throw new Error('The resolver returned no principal.');
    } catch (err) {
      report(
        new EventrailError('unauthorized', 'The principal resolver refused a request.', {
          cause: err,
        }),
      );
      return transport.reject(401, {}, 'Unauthorized\n');
    }
    let routes: ReturnType<typeof buildRouteTable>;
    try {
      routes = buildRouteTable(config.router(principal), limits.maxRoutesPerPrincipal);
    } catch (err) {
      report(err);
      return transport.reject(500, cors, 'Internal Server Error\n');
    }
    // Nothing to receive: 204 tells the browser to stop reconnecting.
    if (routes.table.size === 0) return transport.reject(204, cors, '');
    const key = principalKey(principal);
    if (admitted >= limits.maxConnections) return refuseForLimit(transport, 'maxConnections', cors);
    if ((perPrincipal.get(key) ?? 0) >= limits.maxConnectionsPerPrincipal) {
      return refuseForLimit(transport, 'maxConnectionsPerPrincipal', cors);
    }
    // Counted from here, before any await, so that concurrent requests cannot overshoot.
    admit(key);
    const opening = openings.begin();
    try {
      return await open(transport, principal, routes, key, cors, opening.signal);
    } finally {
      opening.done();
    }
  }

  /** Subscribes, reads the start positions and opens the stream; bounded by `signal`. */
  async function open<R>(
    transport: Transport<R>,
    principal: P,
    routes: ReturnType<typeof buildRouteTable>,
    key: string,
    cors: HeaderRecord,
    signal: AbortSignal,
  ): Promise<R> {
    const keys = [...routes.table.keys()].sort();
    let hubs: Hub<P>[];
    try {
      hubs = await acquireAll(keys, signal);
    } catch (err) {
      unadmit(key);
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
      undefined,
      bufferLimits,
      owner,
    );
    // Join the hubs before reading positions: live events are held from here on, none is missed.
    const memberships = hubs.map((hub, scope) => {
      const topics = routes.table.get(hub.key) ?? null;
      hub.add(connection, topics, scope);
      return { hub, topics };
    });
    connections.set(connection, memberships);
    try {
      connection.positions = await startPositions(hubs, resume, signal);
    } catch (err) {
      connection.peerClosed();
      return refuseForBroker(transport, err, cors);
    }
    if (closing || transport.aborted) {
      connection.peerClosed();
      if (!closing) return transport.reject(499, {}, '');
      refused.closing++;
      return retryLater(transport);
    }
    brokerRefusals.recovered();
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
    logger?.debug(
      { connectionId: id, userId: principal.userId, scopeId: principal.scopeId },
      'eventrail: client connected',
    );
    hook('onClientConnect', connection);
    // An id we cannot use (malformed, foreign, too old a format): the client must refresh.
    if (history && lastEventId && !resume) connection.resync();
    delivery.catchUp(connection, hubs, routes.table, resume).catch((err: unknown) => {
      report(err);
      connection.close('error');
    });
    return result;
  }

  // Streams past their lifetime are drained (checked a few times per lifetime, at most every
  // minute): the browser reconnects, is authenticated again, and resumes from its id.
  const lifetime = limits.maxConnectionLifetimeMs;
  const sweep =
    lifetime > 0
      ? setInterval(
          () => {
            const oldest = Date.now() - lifetime;
            for (const connection of [...connections.keys()]) {
              if (connection.openedAt <= oldest) connection.close('expired', drainRetry());
            }
          },
          Math.max(50, Math.min(lifetime / 4, 60_000)),
        )
      : undefined;
  sweep?.unref();

  const onAbort = (): void => void server.close();

  const server: SseServer = {
    handler: (req, res) => handle(nodeRequest(req), nodeTransport(req, res)),
    fetch: (request) => handle(fetchRequest(request), fetchTransport(request)),
    publisher: createPublisher({
      broker: config.broker,
      maxPayloadBytes: limits.maxPayloadBytes,
      tracing: config.tracing,
    }),
    get closed() {
      return closing !== undefined;
    },
    stats: () => ({
      connections: connections.size,
      hubs: subscriptions.size,
      patterns: subscriptions.size,
      ...counts,
      disconnects: { ...disconnects },
      opening: openings.size,
      refused: { ...refused },
      broker: brokerState(),
    }),
    health() {
      const broker = brokerState();
      const closed = closing !== undefined;
      return { ok: !closed && broker === 'ready', broker, closed };
    },
    close() {
      closing ??= (async () => {
        config.signal?.removeEventListener('abort', onAbort);
        heartbeat?.stop();
        clearInterval(sweep);
        // Requests still waiting for the broker are answered now, with a retry.
        openings.abortAll();
        // Drain: each browser gets its own retry delay and comes back (elsewhere) with its id.
        for (const connection of [...connections.keys()])
          connection.close('server-closed', drainRetry());
        await subscriptions.closeAll();
      })();
      return closing;
    },
  };

  if (config.signal?.aborted) void server.close();
  else config.signal?.addEventListener('abort', onAbort, { once: true });
  return server;
}
