import type { HeaderRecord, Transport } from '../adapters/transport.js';
import { EventrailError } from '../errors.js';
import type { BufferLimits } from '../fanout/backpressure.js';
import { Connection, type ConnectionOwner } from '../fanout/connection.js';
import type { Delivery } from '../fanout/delivery.js';
import type { HistoryReader } from '../fanout/history-reads.js';
import type { Hub } from '../fanout/hub.js';
import { buildRouteTable } from '../fanout/routes.js';
import type { ResolvedOptions } from '../options.js';
import { resolvePrincipal } from '../principal.js';
import type { Principal, SseRequest } from '../types.js';
import { connectionId } from '../util/connection-id.js';
import { parseEventId, scopeTag } from '../wire/event-ids.js';
import { CONNECTED_EVENT, LAST_EVENT_ID_PARAM } from '../wire/protocol.js';
import { formatEvent } from '../wire/sse-format.js';
import { Admission, type LimitName } from './admission.js';
import { corsHeaders } from './cors.js';
import { deferredRetry, type OpeningRate } from './opening-rate.js';
import type { Openings } from './openings.js';
import { answerRetry, jitteredRetry } from './retry-answer.js';
import { openingPositions } from './start-position.js';
import { type StreamOwnerParts, streamOwner } from './stream-owner.js';

type RouteTableResult = ReturnType<typeof buildRouteTable>;

/** The server's parts a request goes through, wired by `createSseServer`. */
export interface PipelineParts<P extends Principal> extends StreamOwnerParts<P> {
  readonly config: ResolvedOptions<P>;
  /** The SSE headers with the user's. */
  readonly headers: HeaderRecord;
  /** `retry: retryMs`, the first bytes of every stream. */
  readonly retryChunk: Uint8Array;
  readonly bufferLimits: BufferLimits;
  readonly history: HistoryReader | undefined;
  readonly openings: Openings;
  readonly delivery: Delivery<P>;
  /** `maxOpeningsPerSecond`: a burst beyond it is deferred to later slots. */
  readonly openingRate: OpeningRate;
  /** True once the server is closing. */
  closing(): boolean;
  /** A `retry:` spread over the drain jitter, so that drained browsers do not return at once. */
  drainRetry(): Buffer;
}

/**
 * The request pipeline: origin, method, principal, routes, limits, subscribe, start positions,
 * hello, catch-up; or the answer that refuses the request. The streams it opens report back to
 * {@link streamOwner}.
 */
export class RequestPipeline<P extends Principal> {
  /** What every connection reports back to. */
  readonly #owner: ConnectionOwner<P>;

  constructor(private readonly parts: PipelineParts<P>) {
    this.#owner = streamOwner(parts);
  }

  /**
   * The server is closing: a request that arrives now gets `retry: retryMs`, one that was still
   * waiting for the broker a drain retry like the open streams; both come back elsewhere.
   */
  private refuseClosing<R>(transport: Transport<R>, extra: HeaderRecord, retry: Uint8Array): R {
    this.parts.counters.refused('closing');
    return answerRetry(transport, { ...this.parts.headers, ...extra }, retry);
  }

  /** A refusal by a connection limit: come back much later, spread out; never a status that stops the browser. */
  private refuseForLimit<R>(transport: Transport<R>, what: LimitName, extra: HeaderRecord): R {
    const { counters, reporter, config, headers } = this.parts;
    counters.refused(what);
    reporter.report(
      new EventrailError('limit-exceeded', `${what}: a connection was refused (it retries later).`),
    );
    const { limitRetryMs } = config.limits;
    const retry = jitteredRetry(limitRetryMs, limitRetryMs / 2, what);
    return answerRetry(transport, { ...headers, ...extra }, retry);
  }

  /**
   * Answers a request the broker did not serve in time (or the server is closing): a jittered
   * `retry:` and the end of the stream. The browser comes back later, maybe to another instance.
   */
  private refuseForBroker<R>(transport: Transport<R>, err: unknown, extra: HeaderRecord): R {
    const { counters, reporter, headers } = this.parts;
    if (this.parts.closing()) return this.refuseClosing(transport, extra, this.parts.drainRetry());
    counters.refused('broker');
    reporter.brokerRefused(err);
    return answerRetry(transport, { ...headers, ...extra }, this.parts.drainRetry());
  }

  /** The request pipeline: origin, method, principal, routes, limits, then the stream. */
  async handle<R>(request: SseRequest, transport: Transport<R>): Promise<R> {
    const { config, reporter, admission, openings } = this.parts;
    const { limits } = config;
    if (this.parts.closing()) return this.refuseClosing(transport, {}, this.parts.retryChunk);
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
      reporter.report(err);
      return transport.reject(401, {}, 'Unauthorized\n');
    }
    let routes: RouteTableResult;
    try {
      routes = buildRouteTable(config.router(principal), limits.maxRoutesPerPrincipal);
    } catch (err) {
      reporter.report(err);
      return transport.reject(500, cors, 'Internal Server Error\n');
    }
    // Nothing to receive: 204 tells the browser to stop reconnecting.
    if (routes.table.size === 0) return transport.reject(204, cors, '');
    const key = Admission.key(principal);
    const limit = admission.refusal(key);
    if (limit !== null) return this.refuseForLimit(transport, limit, cors);
    // A burst beyond maxOpeningsPerSecond: its own later slot, never a refusal at random.
    const slot = this.parts.openingRate.take();
    if (slot !== null) {
      this.parts.counters.refused('maxOpeningsPerSecond');
      return answerRetry(transport, { ...this.parts.headers, ...cors }, deferredRetry(slot));
    }
    // Counted from here, before any await, so that concurrent requests cannot overshoot.
    admission.admit(key);
    const opening = openings.begin();
    try {
      return await this.open(transport, request, principal, routes, key, cors, opening.signal);
    } finally {
      opening.done();
    }
  }

  /** Subscribes, reads the start positions and opens the stream; the waits end with `signal`. */
  private async open<R>(
    transport: Transport<R>,
    request: SseRequest,
    principal: P,
    routes: RouteTableResult,
    key: string,
    cors: HeaderRecord,
    signal: AbortSignal,
  ): Promise<R> {
    const { history, admission, registry, reporter, heartbeat, delivery } = this.parts;
    const keys = [...routes.table.keys()].sort();
    let hubs: Hub<P>[];
    try {
      hubs = await this.parts.subscriptions.acquireAll(keys, signal);
    } catch (err) {
      admission.unadmit(key);
      return this.refuseForBroker(transport, err, cors);
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
      this.parts.bufferLimits,
      this.#owner,
    );
    // Join the hubs before reading positions: live events wait in its backlog from here on.
    const memberships = hubs.map((hub, scope) => {
      const topics = routes.table.get(hub.key) ?? null;
      hub.add(connection, topics, scope);
      return { hub, topics };
    });
    registry.add(connection, memberships);
    const read = (scopeKey: string) => delivery.position(scopeKey);
    try {
      connection.startAt(history && (await openingPositions(keys, resume, read, signal)));
    } catch (err) {
      connection.peerClosed();
      return this.refuseForBroker(transport, err, cors);
    }
    const closing = this.parts.closing();
    if (closing || transport.aborted) {
      connection.peerClosed();
      return closing
        ? this.refuseClosing(transport, cors, this.parts.drainRetry())
        : transport.reject(499, {}, '');
    }
    reporter.brokerServed();
    const hello = formatEvent({
      name: CONNECTED_EVENT,
      data: `{"connectionId":"${id}"}`,
      id: connection.eventId(),
    });
    const { sink, result } = transport.open(
      { ...this.parts.headers, ...cors },
      Buffer.concat([this.parts.retryChunk, Buffer.from(hello)]),
      connection,
    );
    connection.attach(sink);
    heartbeat?.add(connection);
    this.parts.fleet.opened(connection, request, keys);
    reporter.debug(
      { connectionId: id, userId: principal.userId, scopeId: principal.scopeId },
      'eventrail: client connected',
    );
    reporter.hook('onClientConnect', connection);
    // An id we cannot use (malformed, foreign, too old a format): the client must refresh.
    if (history && lastEventId && !resume) connection.resync();
    delivery.catchUp(connection, hubs, routes.table, resume).catch((err: unknown) => {
      reporter.report(err);
      connection.close('error');
    });
    return result;
  }
}
