import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { EventrailError } from './errors.js';
import type { TraceCarrier } from './tracing.js';

/**
 * Who is connected: returned by your {@link PrincipalResolver}. Extend it with whatever your
 * router needs (roles, plan, ...) and pass the type to `createSseServer<P>()`.
 * @public
 */
export interface Principal {
  /** The user behind the connection. */
  readonly userId: string | number;
  /** The tenant (gym, org, ...) the user belongs to. */
  readonly scopeId: string | number;
}

/**
 * The request as eventrail hands it to your resolver, the same for node:http and fetch servers.
 * @public
 */
export interface SseRequest {
  /** The HTTP method, upper case. */
  readonly method: string;
  /** The full request URL (host taken from the `Host` header on node:http). */
  readonly url: URL;
  /** The request headers. */
  readonly headers: Headers;
  /**
   * The framework's own request: an `IncomingMessage` on node:http, an `Http2ServerRequest` on
   * node:http2, a `Request` on fetch servers.
   */
  readonly raw: IncomingMessage | Http2ServerRequest | Request;
}

/**
 * Turns a request into a principal. Throw (or reject) to refuse: the client gets a 401 whose body
 * says nothing about your error, and the error goes to the `onError` hook.
 * @public
 */
export type PrincipalResolver<P extends Principal = Principal> = (
  request: SseRequest,
) => P | Promise<P>;

/**
 * Says which channels a principal may receive, as patterns `{scope}:{scope_id}:{topic}` where the
 * topic may be `*`, e.g. `gym:1:*` or `gym:1:students`. Scope and scope id are always literal.
 * @public
 */
export type Router<P extends Principal = Principal> = (principal: P) => readonly string[];

/** A message as a broker delivers it: the channel it was published on and its raw payload. @public */
export interface BrokerMessage {
  readonly channel: string;
  readonly payload: string;
  /** Its history id (`{ms}-{seq}`) when it was published through the broker's history. */
  readonly id?: string | undefined;
  /**
   * The epoch of the history that issued `id` (8 lowercase hex digits), when known: for Redis the
   * server process that stored it, for the memory broker the broker instance. Two entries with
   * the same id but other epochs are different events (a promoted replica may reissue an id).
   */
  readonly epoch?: string | undefined;
}

/** One stored event of a scope's history. @public */
export interface HistoryEntry {
  /** `{ms}-{seq}`, increasing within a scope. */
  readonly id: string;
  readonly channel: string;
  readonly payload: string;
  /** The epoch of the history that stored it (see {@link BrokerMessage.epoch}), when known. */
  readonly epoch?: string | undefined;
}

/** A position in a scope's history: an entry's id and its epoch, when known. @public */
export interface HistoryPosition {
  /** `{ms}-{seq}` */
  readonly id: string;
  /** See {@link BrokerMessage.epoch}. */
  readonly epoch?: string | undefined;
}

/**
 * A bounded per-scope history, the basis of resume after reconnect. Ids increase within a scope
 * and are unique even with many publishers.
 * @public
 */
export interface BrokerHistory {
  /**
   * Stores the event in the history of `scopeKey` (`gym:1`) and announces it on `channel` with
   * its id, atomically. Resolves with the id.
   */
  append(scopeKey: string, channel: string, payload: string): Promise<string>;
  /**
   * The newest entry of the scope, creating a marker entry when there is none: its id and epoch
   * (a plain id string is a position of unknown epoch).
   */
  position(scopeKey: string): Promise<HistoryPosition | string>;
  /**
   * One page of the entries after `afterId`, oldest first: at most `limit` of them (a bounded
   * default when omitted), or `null` when the history cannot prove that nothing is missing:
   * `afterId` is no longer stored (trimmed, expired, or Redis lost it), another writer stored what
   * follows, or, when `epoch` is given, the entry stored as `afterId` is not of that epoch
   * (another history reissued the id). Fewer than `limit` entries means the end; to read on, call
   * again after the last entry returned (with its epoch). A reader that pages this way holds one
   * page at a time, whatever the history's size.
   */
  readSince(
    scopeKey: string,
    afterId: string,
    limit?: number,
    epoch?: string,
  ): Promise<HistoryEntry[] | null>;
}

/** A live broker subscription. @public */
export interface BrokerSubscription {
  /** Stops delivery to this subscription's handler. Safe to call twice. */
  unsubscribe(): Promise<void>;
}

/**
 * The only coordination point between instances. eventrail ships an in-memory broker
 * (`eventrail/memory`) and a Redis Pub/Sub broker (`eventrail/redis`).
 * @public
 */
export interface Broker {
  /**
   * Delivers every message published on a channel matching `pattern` (Redis glob syntax; eventrail
   * only asks for `{scope}:{scope_id}:*`) to `onMessage`. Resolves once delivery is live.
   * `onGap` is called whenever delivery may have skipped messages (the subscriber connection was
   * lost and is back, or was found dead and recycled); the server then recovers from the history.
   */
  subscribe(
    pattern: string,
    onMessage: (message: BrokerMessage) => void,
    onGap?: () => void,
  ): Promise<BrokerSubscription>;
  /**
   * The per-scope history, when the broker keeps one. Without it events carry no id and cannot
   * be replayed after a reconnect.
   */
  readonly history?: BrokerHistory | undefined;
  /**
   * Where the servers' `presence` option keeps who is connected to each scope, when the broker
   * can (both eventrail brokers do).
   */
  readonly presence?: BrokerPresence | undefined;
  /**
   * Whether the broker's subscription really receives right now: `ready`, `connecting` (down,
   * reconnecting by itself) or `closed`. For the Redis broker `ready` means the subscriber is
   * connected and its last liveness probe came back.
   */
  state?(): BrokerState;
  /**
   * The parts of the broker whose subscription does not receive right now, as far as it can
   * tell: for the Redis broker on a Redis Cluster, the masters (`host:port`, as the cluster
   * announces them) that missed the last liveness probe, until the subscription is replaced or a
   * probe comes back. Empty when every part receives, on a single Redis, and once closed.
   */
  silentShards?(): readonly string[];
  /** Publishes a raw payload on a channel. Resolves once the broker has accepted it. */
  publish(channel: string, payload: string): Promise<void>;
  /** Releases the broker's connections (only those it created itself). Safe to call twice. */
  close(): Promise<void>;
}

/** See {@link Broker.state}. @public */
export type BrokerState = 'ready' | 'connecting' | 'closed';

/** An event to publish. @public */
export interface PublishableEvent {
  /** `{topic}.{action}`, e.g. `students.changed`. Browsers see `{prefix}.{eventType}`. */
  readonly eventType: string;
  /** Any JSON-serialisable value. @defaultValue `{}` */
  readonly data?: unknown;
  /**
   * The id of the browser connection that caused the change. That connection does not receive
   * the event (it already refreshed itself); every other connection does. Undefined (what
   * `readOrigin` returns for a request without one) skips no one.
   */
  readonly origin?: string | undefined;
}

/** Publishes events on `{scope}:{scope_id}:{topic}` channels. @public */
export interface Publisher {
  /**
   * Validates and publishes one event.
   * @throws {@link EventrailError} `invalid-channel`, `invalid-event-type` or `invalid-data`
   * before anything reaches the broker; `broker-error` when the broker refuses it.
   */
  publishEvent(channel: string, event: PublishableEvent): Promise<void>;
  /** Publishes an event with no data (`{}`); shorthand for `publishEvent(channel, { eventType })`. */
  publishType(channel: string, eventType: string): Promise<void>;
  /**
   * Closes, on every instance, the streams of a scope that `target` selects (a user, a key of
   * the server's `revocationKeys`, one connection, or all of them): one publish on the scope's
   * control channel, acted on by each instance as it receives it. The browsers reconnect and are
   * resolved afresh, so revoke after changing what the resolver and router answer.
   * @throws {@link EventrailError} `invalid-channel` or `invalid-data` for a bad target;
   *   `broker-error` when the broker refuses it.
   */
  revoke(target: RevocationTarget): Promise<void>;
}

/**
 * An event as it will be written to browsers: the SSE event name and the `data` text.
 * @public
 */
export interface OutgoingEvent {
  /** The SSE `event:` field. `message` is the browser's default (`onmessage`). */
  readonly name: string;
  /** The SSE `data:` text; line breaks become several `data:` lines. */
  readonly data: string;
  /** The connection id that published it, if any; that connection is skipped. */
  readonly origin?: string | undefined;
  /**
   * The publisher's trace context, for the `tracing` option's delivery span. Never written to
   * browsers.
   */
  readonly traceContext?: TraceCarrier | undefined;
}

/**
 * Turns a broker message into the event browsers receive, or `null` to drop it. The default
 * decodes `{"event_type", "data"}` payloads and delivers anything else as `message`.
 * @public
 */
export type EventEncoder = (message: BrokerMessage, prefix: string) => OutgoingEvent | null;

/**
 * What the server does when a client's buffer is full: `disconnect` cuts it (it reconnects and
 * resumes), `drop` skips events (then resyncs it), `coalesce` keeps only the newest pending event
 * of each name (an invalidation merges with a newer one of its kind) and, past the bound, one
 * resync.
 * @public
 */
export type BackpressurePolicy = 'disconnect' | 'drop' | 'coalesce';

/** Why a client went away. @public */
export type DisconnectReason =
  | 'client-closed'
  | 'backpressure'
  | 'server-closed'
  | 'expired'
  | 'revoked'
  | 'error';

/** A connected client, as hooks see it. @public */
export interface ClientInfo<P extends Principal = Principal> {
  /** A unique id of this connection on this instance; also the `origin` that skips it. */
  readonly id: string;
  readonly principal: P;
  /** The validated patterns the router returned. */
  readonly patterns: readonly string[];
}

/**
 * Callbacks for observability. A hook that throws is reported to `onError` and otherwise ignored.
 * @public
 */
export interface ServerHooks<P extends Principal = Principal> {
  onClientConnect?(client: ClientInfo<P>): void;
  onClientDisconnect?(client: ClientInfo<P>, reason: DisconnectReason): void;
  /** Backpressure acted on a slow client: it was cut (`disconnect`) or an event skipped (`drop`). */
  onClientDropped?(client: ClientInfo<P>, action: BackpressurePolicy, event: OutgoingEvent): void;
  /** An event was written to `recipients` connections of this instance. */
  onEventBroadcast?(
    event: OutgoingEvent,
    channel: string,
    recipients: number,
    /** When the event was stored (ms since epoch, the broker's clock), for publish-to-write latency. */
    publishedAt: number | undefined,
  ): void;
  /** The first client of a scope arrived: its broker subscription is live. */
  onHubStarted?(scopeKey: string): void;
  /** A scope had no client for the idle timeout (or the server closed): unsubscribed. */
  onHubStopped?(scopeKey: string): void;
  /** Anything that went wrong without a caller to throw to: broker errors, refused requests, hooks. */
  onError?(error: EventrailError | Error): void;
}

/**
 * A structured logger, as pino (and most Node loggers) shape it: `logger.info({ ...fields }, msg)`.
 * eventrail logs nothing unless you give it one.
 * @public
 */
export interface Logger {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

/**
 * Entries in one page of a history read (`readSince`'s `limit` when omitted, and the page a
 * replay reads): what one read holds in memory, whatever the history's size.
 */
export const HISTORY_PAGE = 256;

/**
 * Whose streams {@link Publisher.revoke} closes, always within one scope (`gym:1`): every stream
 * in the scope that the rest selects: a user's (`userId`, compared as text), those whose
 * principal has `key` among the `revocationKeys` the server was given (a session id, a role), one
 * stream (`connectionId`, the id the stream announced in `eventrail.connected`), or, with none of
 * them, every stream of the scope. A stream routed to several scopes is closed as a whole.
 * @public
 */
export interface RevocationTarget {
  /** The scope `{scope}:{scope_id}`, e.g. `gym:1`. */
  readonly scope: string;
  readonly userId?: string | number | undefined;
  readonly key?: string | undefined;
  readonly connectionId?: string | undefined;
}

/**
 * Where a broker keeps presence: for each scope, the users each instance has streams of, and for
 * each instance a mark that it is alive. An instance writes only its own changes (a user's first
 * stream in a scope on this instance, its last one leaving) and renews its mark once per interval,
 * whatever the number of its scopes; readers count only the entries of instances whose mark holds,
 * so an instance that dies (or stalls past `ttlMs`) is out of the presence once its mark expires.
 * An instance counted out never comes back under its id: it writes its entries again under a new
 * one, so readers may delete what a dead id left. Entries also expire by themselves `keepMs` after
 * their last write or touch (what a dead instance leaves in scopes nobody reads).
 * @public
 */
export interface BrokerPresence {
  /**
   * Instance `instance` now has streams of the users `add` in `scopeKey`, and none of `remove`.
   * `fresh`: it had none in the scope before (its entry is created and lives `keepMs`).
   */
  update(instance: string, scopeKey: string, change: PresenceChange): Promise<void>;
  /**
   * Marks `instance` alive for `ttlMs`. With `renew`, only a mark that still exists is renewed
   * (never one written again): resolves false when it was gone (readers counted the instance out,
   * or the broker lost its data). Without, the mark is written and it resolves true.
   */
  alive(instance: string, ttlMs: number, renew: boolean): Promise<boolean>;
  /**
   * Keeps the entries of `instance` in these scopes for another `keepMs`. Resolves the scopes
   * whose entry was gone: the caller writes them again.
   */
  touch(instance: string, scopeKeys: readonly string[], keepMs: number): Promise<string[]>;
  /**
   * The distinct users with a stream in the scope on any live instance; what instances no longer
   * alive left there is removed.
   */
  read(scopeKey: string): Promise<string[]>;
}

/** One write of {@link BrokerPresence.update}. @public */
export interface PresenceChange {
  readonly add: readonly string[];
  readonly remove: readonly string[];
  /** The instance had no entry in the scope before this change. */
  readonly fresh: boolean;
  /** The instance has no user left in the scope after this change. */
  readonly empty: boolean;
  /** How long a fresh entry lives without a write or a touch. */
  readonly keepMs: number;
}
