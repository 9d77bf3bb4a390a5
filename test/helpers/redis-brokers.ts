/**
 * The Redis broker under the contract suite, in either channel mode: made from a URL (its own
 * connections) and on node-redis clients the test made; another program publishing beside it.
 */
import { after } from 'node:test';
import { createClient } from 'redis';
import { type ChannelMode, createRedisBroker } from '../../src/brokers/redis.js';
import { encodeShardPayload, scopeOfChannel, shardChannel } from '../../src/brokers/redis-shard.js';
import { brokerContract } from './broker-contract.js';
import { connectRaw, type RedisProcess, redisCli, redisSkipReason, startRedis } from './redis.js';

/**
 * One redis-server for the calling test file, started by the first test that asks for it and
 * stopped when the file ends.
 */
export function redisPerFile(): () => Promise<RedisProcess> {
  let shared: Promise<RedisProcess> | undefined;
  after(async () => {
    if (shared) await (await shared).stop();
  });
  return () => {
    shared ??= startRedis();
    return shared;
  };
}

/** The command that publishes `payload` on `channel` like another program would, in `mode`. */
export function rawPublishArgs(mode: ChannelMode, channel: string, payload: string): string[] {
  if (mode === 'pattern') return ['PUBLISH', channel, payload];
  return [
    'SPUBLISH',
    shardChannel('', scopeOfChannel(channel)),
    encodeShardPayload(channel, payload),
  ];
}

/**
 * Registers the broker contract suite for the Redis broker in `channels` mode, twice: `{name}
 * (url)` and `{name} (own clients)`, on the Redis `getRedis` gives.
 */
export function redisBrokerContracts(
  name: string,
  getRedis: () => Promise<RedisProcess>,
  channels: ChannelMode,
): void {
  const options = { skip: redisSkipReason(), outsidePublisher: true };
  brokerContract(
    `${name} (url)`,
    async ({ onError }) => {
      const redis = await getRedis();
      const broker = createRedisBroker({ url: redis.url, onError, channels });
      const raw = await connectRaw(redis.port);
      return {
        broker,
        async publishRaw(channel, payload) {
          await raw.command(...rawPublishArgs(channels, channel, payload));
        },
        async cleanup() {
          await broker.close();
          await raw.close();
        },
      };
    },
    options,
  );
  brokerContract(
    `${name} (own clients)`,
    async ({ onError }) => {
      const redis = await getRedis();
      const publisher = createClient({ url: redis.url });
      const subscriber = publisher.duplicate();
      for (const client of [publisher, subscriber]) client.on('error', onError);
      await Promise.all([publisher.connect(), subscriber.connect()]);
      const broker = createRedisBroker({ publisher, subscriber, onError, channels });
      return {
        broker,
        async publishRaw(channel, payload) {
          await redisCli(redis.port, ...rawPublishArgs(channels, channel, payload));
        },
        async cleanup() {
          await broker.close();
          await Promise.all([publisher.close(), subscriber.close()]);
        },
      };
    },
    options,
  );
}
