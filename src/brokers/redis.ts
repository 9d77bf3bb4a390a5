/**
 * The Redis broker: the Broker contract over one {@link RedisConnection} (a URL it connects, clients
 * it is given, or a Redis Cluster; redis-topology.ts chooses), with its liveness, its
 * subscriptions and what it sends each in a module of their own.
 */
import type { Broker } from '../types.js';
import { CommandSender } from './redis-commands.js';
import type { RedisConnection } from './redis-connection.js';
import { Liveness } from './redis-liveness.js';
import type { RedisBrokerOptions } from './redis-options.js';
import { redisSettings } from './redis-settings.js';
import { Subscriptions } from './redis-subscriptions.js';
import { openConnection } from './redis-topology.js';

export type { HistoryLimits } from './history-store.js';
export type { RedisClusterClient, RedisClusterConfig } from './redis-cluster.js';
export type { RedisPubSubListener } from './redis-modes.js';
export type {
  RedisBrokerOptions,
  RedisPublishClient,
  RedisSubscribeClient,
} from './redis-options.js';
export type { ChannelMode } from './redis-shard.js';

/**
 * A broker on Redis Pub/Sub: the production default. Every instance subscribes once per scope
 * on one subscriber connection: `PSUBSCRIBE gym:1:*`, events published with `PUBLISH` (the
 * default, the Go eventrail's wire), or with `channels: 'sharded'` `SSUBSCRIBE` of the scope's
 * shard channel, events published with `SPUBLISH` (Redis >= 7; no pattern for Redis to match).
 *
 * @example
 * ```ts
 * import { createRedisBroker } from 'eventrail/redis';
 * const broker = createRedisBroker({ url: process.env.REDIS_URL });
 * ```
 * @throws {@link EventrailError} `invalid-option` when neither a URL nor both clients are given, or
 *   an option is invalid (in the sharded mode: a prefix with `{` or `}`, clients without the
 *   sharded commands).
 * @public
 */
export function createRedisBroker(options: RedisBrokerOptions): Broker {
  // Every option is checked before a connection is made: a refused call leaves nothing open.
  const settings = redisSettings(options);
  const liveness = new Liveness(settings);
  const connection: RedisConnection = openConnection(settings, liveness.events);
  const sender = new CommandSender(connection, settings);
  const subscriptions = new Subscriptions(connection, settings, sender.deadlines);
  liveness.start(connection, subscriptions);
  let closed: Promise<void> | undefined;

  return {
    history: sender.history,
    presence: sender.presence,
    silentShards: () => (closed ? [] : connection.silent()),
    state() {
      if (closed) return 'closed';
      return connection.subscriber().isReady !== false && liveness.trusted()
        ? 'ready'
        : 'connecting';
    },
    subscribe: (glob, onMessage, onGap) => subscriptions.subscribe(glob, onMessage, onGap),
    async publish(channel, payload) {
      await sender.publish(channel, payload);
    },
    close() {
      closed ??= (async () => {
        const entries = subscriptions.close();
        sender.close();
        liveness.stop();
        await connection.close(entries, settings.publishTimeoutMs);
      })();
      return closed;
    },
  };
}
