/**
 * The Redis broker under the contract suite, in either channel mode: made from a URL (its own
 * connections) and on node-redis clients the test made; another program publishing beside it.
 */
import { after } from 'node:test';
import { createClient } from 'redis';
import {
  type ChannelMode,
  createRedisBroker,
  type RedisPublishClient,
  type RedisSubscribeClient,
} from '../../src/brokers/redis.js';
import { encodeShardPayload, scopeOfChannel, shardChannel } from '../../src/brokers/redis-shard.js';
import { type BrokerFactory, brokerContract } from './broker-contract.js';
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

/** What the tests use of a node-redis client (v5 and v6 alike). */
export type NodeRedisClient = RedisPublishClient &
  RedisSubscribeClient & {
    readonly isOpen: boolean;
    connect(): Promise<unknown>;
    close(): Promise<unknown>;
    duplicate(): NodeRedisClient;
    ping(): Promise<unknown>;
    publish(channel: string, message: string): Promise<number>;
    on(event: 'error', listener: (error: Error) => void): unknown;
  };

/** `createClient` of one node-redis major. */
export type CreateClient = (options: { url: string }) => NodeRedisClient;

/** A connected publisher and its duplicate as subscriber; errors go to `onError`. */
export async function connectPair(
  createClient: CreateClient,
  url: string,
  onError: (error: Error) => void,
): Promise<{ publisher: NodeRedisClient; subscriber: NodeRedisClient; close(): Promise<void> }> {
  const publisher = createClient({ url });
  const subscriber = publisher.duplicate();
  for (const client of [publisher, subscriber]) client.on('error', onError);
  await Promise.all([publisher.connect(), subscriber.connect()]);
  return {
    publisher,
    subscriber,
    async close() {
      await Promise.all([publisher, subscriber].map((c) => (c.isOpen ? c.close() : undefined)));
    },
  };
}

/**
 * Contract-suite brokers on clients from `createClient` (any node-redis major) in `channels` mode;
 * another program publishes with redis-cli.
 */
export function givenClientsFactory(
  createClient: CreateClient,
  getRedis: () => Promise<RedisProcess>,
  channels: ChannelMode = 'pattern',
): BrokerFactory {
  return async ({ onError }) => {
    const redis = await getRedis();
    const clients = await connectPair(createClient, redis.url, onError);
    const broker = createRedisBroker({ ...clients, onError, channels });
    return {
      broker,
      async publishRaw(channel, payload) {
        await redisCli(redis.port, ...rawPublishArgs(channels, channel, payload));
      },
      async cleanup() {
        await broker.close();
        await clients.close();
      },
    };
  };
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
    givenClientsFactory(createClient, getRedis, channels),
    options,
  );
}
