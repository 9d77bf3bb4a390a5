/**
 * The Redis broker's options and the client shapes it accepts: the public contract of
 * `createRedisBroker` (checked in redis-settings.ts).
 */
import type { Logger } from '../types.js';
import type { HistoryLimits } from './history-store.js';
import type { RedisClusterClient, RedisClusterConfig } from './redis-cluster.js';
import type { PublishCommands, PubSubClient, RedisPubSubListener } from './redis-modes.js';
import type { ChannelMode } from './redis-shard.js';

/** The commands a publish or a history read sends. */
type Commands = 'publish' | 'sPublish' | 'sendCommand';

/**
 * What the Redis broker needs from the client it publishes with. A node-redis (`redis` v5+)
 * client satisfies it.
 * @public
 */
export interface RedisPublishClient extends PublishCommands {
  publish(channel: string, message: string): Promise<unknown>;
  /**
   * node-redis's per-command abort: a publish that timed out is taken out of the client's queue,
   * so it is not sent later, when Redis comes back, after the caller was told it failed.
   */
  withAbortSignal?(signal: AbortSignal): Pick<RedisPublishClient, Commands>;
  /**
   * node-redis's per-command options, preferred to `withAbortSignal` when present: the broker
   * passes its own shared abort signal and turns off the client's own timer per command
   * (`timeout`), since `publishTimeoutMs` already bounds every command.
   */
  withCommandOptions?(options: {
    abortSignal: AbortSignal;
    timeout: undefined;
  }): Pick<RedisPublishClient, Commands>;
  /** Raw commands, for the history (Lua scripts and XRANGE). Without it there is no history. */
  sendCommand?(args: string[]): Promise<unknown>;
}

/**
 * What the Redis broker needs from the client it subscribes with: a node-redis client that is used
 * for nothing else (it enters Pub/Sub mode). node-redis resubscribes by itself after a reconnect.
 * @public
 */
export interface RedisSubscribeClient extends PubSubClient {
  pSubscribe(pattern: string, listener: RedisPubSubListener): Promise<unknown>;
  pUnsubscribe(pattern: string, listener: RedisPubSubListener): Promise<unknown>;
  /** node-redis's own view of the connection. */
  readonly isReady?: boolean;
  /** node-redis emits `ready` after every (re)connect: then messages may have been missed. */
  on?(event: 'ready', listener: () => void): unknown;
}

/** Options of {@link createRedisBroker}. @public */
export interface RedisBrokerOptions extends HistoryLimits {
  /**
   * A Redis URL (`redis://host:6379/0`). The broker then creates its two connections (one to
   * publish, one to subscribe), owns them, and closes them in `close()`.
   * Give either `url` or both clients. `undefined` counts as not given (`url: process.env.REDIS_URL`
   * with the variable unset then fails with `invalid-option`, naming what is missing).
   */
  url?: string | undefined;
  /**
   * A Redis Cluster (>= 7), instead of `url`: `{ rootNodes: [{ url }] }` to connect to (the broker
   * creates its cluster clients, owns them and closes them in `close()`), or a connected node-redis
   * cluster client of yours (`createCluster(...)`), which it publishes with and leaves open; it
   * subscribes on a duplicate of its own. Each scope lives on the shard that owns its slot; a
   * publish touches only that shard. Implies `channels: 'sharded'` (classic Pub/Sub is broadcast
   * to every node of a cluster).
   */
  cluster?: RedisClusterConfig | RedisClusterClient;
  /** Your own client to publish with. It is left open by `close()`. */
  publisher?: RedisPublishClient;
  /** Your own client to subscribe with, used for nothing else. It is left open by `close()`. */
  subscriber?: RedisSubscribeClient;
  /**
   * How long a publish may wait (for example while Redis is unreachable) before it rejects with
   * `broker-error`, withdrawn: it is never sent later. The same bound applies to history reads.
   * Commands share one timer, so the rejection may come up to a tenth of this (at most 250 ms)
   * late; when one expires, the commands still queued behind it fail with it.
   * @defaultValue `5000`
   */
  publishTimeoutMs?: number;
  /**
   * Keep a per-scope history in Redis Streams (`{historyKeyPrefix}{scope:id}`), so that clients
   * resume after a reconnect. Publishing then stores and announces in one Lua script.
   * @defaultValue `true`
   */
  history?: boolean;
  /**
   * Prepended to every channel and pattern in Redis (and to the history keys), so that several
   * applications can share one Redis without seeing each other's events: `prefix: 'billing:'`
   * publishes `gym:1:students` as `billing:gym:1:students`. Empty or ending with `:` (then no
   * channel or key of one application is another's), without glob characters or whitespace.
   * An application with a shorter prefix may still be sent another's events by Redis (`''` and
   * routes `billing:gym:*` match `billing:gym:1:students`): it delivers none of them, as their
   * topic (`1:students`) is not one.
   * @defaultValue `''`
   */
  prefix?: string;
  /**
   * Prefix of the history stream keys: empty or ending with `:`, and each application's own.
   * @defaultValue `` `${prefix}eventrail:history:` ``
   */
  historyKeyPrefix?: string;
  /**
   * How the history's Lua runs in Redis. `function`: as a function library (`FCALL`, Redis >= 7;
   * scripts where functions are missing or refused), the cheapest; a library is shared by every
   * client of the server, so use it only where no client you trust less may `FUNCTION LOAD`.
   * `script`: always as scripts called by their SHA1 (`EVALSHA`), which no other client can
   * swap; each append then asks Redis for its `run_id` (about twice the Redis CPU of an append).
   * See SECURITY.md.
   * @defaultValue `'function'`
   */
  historyCode?: 'function' | 'script';
  /**
   * How often the broker checks that its subscription still receives, by publishing a token on a
   * channel of its own and waiting up to `publishTimeoutMs` for it. A subscription that is open
   * but receives nothing (a failover behind a proxy, a half-dead connection) is replaced and its
   * scopes recover from the history. One whose token comes late while other messages keep
   * arriving is behind (a burst a busy process is still reading), not deaf: it is left to catch up,
   * for six `publishTimeoutMs` at most. Only for connections the broker owns (`url`); 0 turns it off.
   * @defaultValue `15000`
   */
  probeIntervalMs?: number;
  /**
   * How events travel through Redis. `pattern`: on their own channel (`PUBLISH gym:1:students`),
   * one `PSUBSCRIBE gym:1:*` per scope: the Go eventrail's wire contract, on any Redis. `sharded`:
   * on one shard channel per scope (`SPUBLISH eventrail:{gym:1}`, the channel in the payload),
   * one `SSUBSCRIBE` per scope: no pattern for Redis to match on every publish (Redis >= 7; the
   * Go eventrail does not see these events). A subscriber receives only its own mode.
   * @defaultValue `'pattern'`
   */
  channels?: ChannelMode;
  /**
   * Where a publish is announced. Listing both during a migration from one mode to the other
   * lets servers of either mode receive every event (stored once in the history).
   * @defaultValue `[channels]`
   */
  announce?: readonly ChannelMode[];
  /**
   * Errors of connections the broker owns, once per transition rather than once per reconnect
   * attempt: `broker-error` when Redis becomes unreachable (or stops answering the liveness
   * probe), then at most one reminder per `outageReminderMs` while it stays away, with the number
   * of failed attempts and how long it has been down.
   */
  onError?: (error: Error) => void;
  /**
   * A pino-shaped logger for the same transitions: `error` when Redis goes away, `warn` for each
   * reminder, `info` when it is back (`Redis back after 12.3 s`). Nothing is logged without one.
   */
  logger?: Logger;
  /**
   * While Redis stays unreachable, the longest time between two reports of it (to `onError` and
   * `logger`); 0 reports only the start and the end of an outage.
   * @defaultValue `30000`
   */
  outageReminderMs?: number;
}
