/**
 * The broker of an example, from the environment:
 *   REDIS_CLUSTER   comma-separated host:port root nodes of a Redis Cluster (sharded channels)
 *   REDIS_URL       one Redis; REDIS_CHANNELS=sharded|pattern picks the channel mode (default pattern)
 *   neither         the in-memory broker
 */
import type { Broker, Logger } from 'eventrail';
import { createMemoryBroker } from 'eventrail/memory';
import { createRedisBroker } from 'eventrail/redis';

/** The Redis the environment names: a cluster (REDIS_CLUSTER wins) or one server (REDIS_URL). */
export type RedisTarget =
  | { readonly cluster: { readonly rootNodes: ReadonlyArray<{ readonly url: string }> } }
  | { readonly url: string };

/** The Redis of REDIS_CLUSTER or REDIS_URL, or `undefined` when neither is set. */
export function redisFromEnv(env: NodeJS.ProcessEnv = process.env): RedisTarget | undefined {
  const cluster = env.REDIS_CLUSTER;
  if (cluster) {
    const rootNodes = cluster
      .split(',')
      .map((node) => node.trim())
      .filter((node) => node !== '')
      .map((node) => ({ url: `redis://${node}` }));
    if (rootNodes.length === 0) throw new Error('REDIS_CLUSTER names no host:port');
    return { cluster: { rootNodes } };
  }
  return env.REDIS_URL ? { url: env.REDIS_URL } : undefined;
}

/**
 * The broker the environment asks for; `logger` hears of Redis outages (once per transition),
 * `onError` of a subscriber that throws on the in-memory broker.
 */
export function brokerFromEnv(logger: Logger, onError?: (error: Error) => void): Broker {
  const redis = redisFromEnv();
  if (redis === undefined) return createMemoryBroker(onError ? { onError } : {});
  if ('cluster' in redis) return createRedisBroker({ cluster: redis.cluster, logger });
  const channels = process.env.REDIS_CHANNELS ?? 'pattern';
  if (channels !== 'pattern' && channels !== 'sharded')
    throw new Error(`REDIS_CHANNELS must be sharded or pattern, not ${channels}`);
  return createRedisBroker({ url: redis.url, channels, logger });
}

/** What {@link brokerFromEnv} picks, for a start-up line. */
export function brokerEnvName(): string {
  if (process.env.REDIS_CLUSTER) return 'Redis Cluster';
  if (!process.env.REDIS_URL) return 'in-memory';
  return `Redis, ${process.env.REDIS_CHANNELS ?? 'pattern'} channels`;
}
