/**
 * The broker of an example, from the environment:
 *   REDIS_CLUSTER   comma-separated host:port root nodes of a Redis Cluster (sharded channels)
 *   REDIS_URL       one Redis; REDIS_CHANNELS=sharded|pattern picks the channel mode (default pattern)
 *   neither         the in-memory broker
 */
import type { Broker, Logger } from 'eventrail';
import { createMemoryBroker } from 'eventrail/memory';
import { createRedisBroker } from 'eventrail/redis';

/** The broker the environment asks for; `logger` hears of Redis outages (once per transition). */
export function brokerFromEnv(logger: Logger): Broker {
  const cluster = process.env.REDIS_CLUSTER;
  if (cluster) {
    const rootNodes = cluster
      .split(',')
      .map((node) => node.trim())
      .filter((node) => node !== '')
      .map((node) => ({ url: `redis://${node}` }));
    return createRedisBroker({ cluster: { rootNodes }, logger });
  }
  const url = process.env.REDIS_URL;
  if (!url) return createMemoryBroker();
  const channels = process.env.REDIS_CHANNELS ?? 'pattern';
  if (channels !== 'pattern' && channels !== 'sharded')
    throw new Error(`REDIS_CHANNELS must be sharded or pattern, not ${channels}`);
  return createRedisBroker({ url, channels, logger });
}

/** What {@link brokerFromEnv} picks, for a start-up line. */
export function brokerEnvName(): string {
  if (process.env.REDIS_CLUSTER) return 'Redis Cluster';
  if (!process.env.REDIS_URL) return 'in-memory';
  return `Redis, ${process.env.REDIS_CHANNELS ?? 'pattern'} channels`;
}
