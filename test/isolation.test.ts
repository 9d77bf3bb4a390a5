/**
 * Tenant isolation, property-based (seeded; engine in helpers/isolation-run.ts). Random principals
 * with random routes connect to random instances; random valid, raw (another program's PUBLISH)
 * and hostile publishes follow, and some clients come back with a stolen, forged or garbage
 * Last-Event-ID. Names include U+FFFD, and hostile ones lone surrogates (Redis would store both
 * as the same bytes). On Redis the instances are two applications, with the prefixes `''` and
 * `org:`, whose names overlap (`org:gym:*` of the first globs `org:gym:1:a` of the second). After
 * every round, once everything has arrived:
 *
 * - no client holds an event outside its routes or of the other application, nor one twice;
 * - every client connected before a publish holds every event its routes allow;
 * - hostile publishes were refused with a typed EventrailError and nothing of them reached the
 *   broker (command counts unchanged, a tap on every channel saw none of them);
 * - a Last-Event-ID issued for other scopes, forged or garbage replayed nothing (one resync).
 *
 * Replay a failure with ISOLATION_SEED=<the seed printed>; ISOLATION_ROUNDS changes the length.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createCluster } from 'redis';
import { createMemoryBroker } from '../src/brokers/memory.js';
import {
  type ChannelMode,
  createRedisBroker,
  type RedisBrokerOptions,
} from '../src/brokers/redis.js';
import { scopeOfChannel, shardChannel } from '../src/brokers/redis-shard.js';
import { createPublisher } from '../src/publisher.js';
import type { Broker } from '../src/types.js';
import { type Framework, type RunningApp, startApp } from './helpers/apps.js';
import { fleetResolver, fleetRouter, runFleetIsolation } from './helpers/isolation-fleet.js';
import { type Env, runIsolation } from './helpers/isolation-run.js';
import { envInteger, envSeed } from './helpers/random.js';
import {
  connectRaw,
  redisCommand,
  redisSkipReason,
  startRedis,
  startRedisCluster,
} from './helpers/redis.js';
import { rawPublishArgs } from './helpers/redis-brokers.js';
import {
  IDS,
  PREFIXES,
  RAW_CHANNELS,
  routedResolver,
  routedRouter,
  SCOPES,
} from './helpers/tenants.js';

const SEED = envSeed('ISOLATION_SEED');
const ROUNDS = envInteger('ISOLATION_ROUNDS', 200, 1);
const FLEET_ROUNDS = envInteger('ISOLATION_FLEET_ROUNDS', 20, 1);
console.log(`isolation seed ${SEED} (replay with ISOLATION_SEED=${SEED})`);

/** Every channel the run may send to: the alphabet's and the raw ones. */
const channelsSent = (): string[] => [
  ...SCOPES.flatMap((scope) => IDS.map((id) => `${scope}:${id}:x`)),
  ...RAW_CHANNELS,
];
/** The shard channels of `channels`' scopes in every application, each once. */
const shardsOf = (channels: readonly string[]): string[] => [
  ...new Set(
    PREFIXES.flatMap((prefix) =>
      channels.map((channel) => shardChannel(prefix, scopeOfChannel(channel))),
    ),
  ),
];
/** What Redis makes of a name: UTF-8, with U+FFFD for a lone surrogate (as node-redis writes it). */
const asRedisStores = (channel: string): string => channel.replace(/\p{Cs}/gu, '\uFFFD');

const options = (broker: Broker, errors: Error[], hubIdleTimeoutMs: number) => ({
  broker,
  resolver: routedResolver,
  router: routedRouter,
  eventNamePrefix: 'app',
  hubIdleTimeoutMs,
  hooks: { onError: (e: Error) => void errors.push(e) },
});

describe('tenant isolation (memory broker, one instance)', () => {
  it(`holds over ${ROUNDS} random rounds`, async () => {
    const inner = createMemoryBroker();
    const history = inner.history;
    assert.ok(history);
    const tapped: string[] = [];
    const errors: Error[] = [];
    // What the server's publisher hands the broker passes this tap; env.raw goes around it.
    const broker: Broker = {
      ...inner,
      publish(channel, payload) {
        tapped.push(payload);
        return inner.publish(channel, payload);
      },
      history: {
        ...history,
        append(key, channel, payload) {
          tapped.push(payload);
          return history.append(key, channel, payload);
        },
      },
    };
    const app = await startApp('node:http', options(broker, errors, 0));
    const started = Date.now();
    try {
      const env: Env = {
        apps: [app],
        raw: (channel, payload) => inner.publish(channel, payload),
        reached: async () => tapped.length,
        tapped,
        errors,
      };
      const stats = await runIsolation(env, ROUNDS, SEED);
      console.log(`memory: ${JSON.stringify(stats)} in ${Date.now() - started} ms`);
    } finally {
      await app.stop();
      await inner.close();
    }
  });
});

/** Where the Redis instances run, and how another program publishes and taps there. */
interface Backend {
  readonly brokerOptions: RedisBrokerOptions;
  /** The channel a raw publish arrives on. */
  rawAs(channel: string): string;
  /** Publishes like another program (no validation, no history). */
  raw(channel: string, payload: string): Promise<void>;
  /** Records every payload carried on any channel the run uses. */
  tap(record: (payload: string) => void): Promise<void>;
  /** The ports whose command counts tell what reached Redis. */
  readonly counted: readonly number[];
  stop(): Promise<void>;
}

/** One Redis, in `channels` mode. */
async function oneRedis(channels: ChannelMode): Promise<Backend> {
  const redis = await startRedis();
  const other = await connectRaw(redis.port);
  const tap = await connectRaw(redis.port);
  return {
    brokerOptions: { url: redis.url, channels },
    // A pattern subscriber receives the stored bytes; a shard payload carries the channel as
    // escaped JSON, so a lone surrogate survives in it (and names no scope anyone holds).
    rawAs: channels === 'pattern' ? asRedisStores : (channel) => channel,
    raw: async (channel, payload) =>
      void (await other.command(...rawPublishArgs(channels, channel, payload))),
    async tap(record) {
      tap.onMessage((m) => record(m.payload));
      if (channels === 'pattern') await tap.command('PSUBSCRIBE', '*');
      // Shard channels match no pattern: the tap listens to every scope anything is sent to.
      else for (const shard of shardsOf(channelsSent())) await tap.command('SSUBSCRIBE', shard);
    },
    counted: [redis.port],
    async stop() {
      await Promise.all([other.close(), tap.close()]);
      await redis.stop();
    },
  };
}

/** A Redis Cluster; another program publishes and taps through node-redis's cluster client. */
async function redisCluster(): Promise<Backend> {
  const cluster = await startRedisCluster();
  const other = createCluster({ rootNodes: [...cluster.rootNodes] });
  const tap = other.duplicate();
  await Promise.all([other.connect(), tap.connect()]);
  const masters = await Promise.all(
    cluster.nodes.map(async (node) => {
      const role = (await redisCommand(node.port, 'ROLE')) as unknown[];
      return role[0] === 'master' ? node.port : undefined;
    }),
  );
  return {
    brokerOptions: { cluster: { rootNodes: cluster.rootNodes } },
    rawAs: (channel) => channel,
    raw: async (channel, payload) => {
      const [, shard, message] = rawPublishArgs('sharded', channel, payload);
      await other.sPublish(shard as string, message as string);
    },
    async tap(record) {
      for (const shard of shardsOf(channelsSent())) await tap.sSubscribe(shard, record);
    },
    counted: masters.filter((port) => port !== undefined),
    async stop() {
      await Promise.all([other.close(), tap.close()]);
      await cluster.stop();
    },
  };
}

const BACKENDS: Array<[string, () => Promise<Backend>]> = [
  ['one Redis, pattern channels', () => oneRedis('pattern')],
  ['one Redis, sharded channels', () => oneRedis('sharded')],
  ['a Redis Cluster', redisCluster],
];

for (const [where, start] of BACKENDS) {
  describe(`tenant isolation (three instances on ${where})`, { skip: redisSkipReason() }, () => {
    const cleanup: Array<() => Promise<void>> = [];
    after(async () => {
      for (const step of cleanup.reverse()) await step();
    });

    it(`holds over ${ROUNDS} random rounds`, async () => {
      const backend = await start();
      cleanup.push(() => backend.stop());
      const errors: Error[] = [];
      const apps: RunningApp[] = [];
      const frameworks: Framework[] = ['node:http', 'express', 'fetch', 'node:http'];
      // Subscriptions churn on one instance, linger briefly on another, stay on the third.
      const idle = [0, 50, 300_000, 0];
      // Two applications on one Redis: the first two instances without a prefix, the others with
      // `org:`, a scope of the first (its route `org:gym:*` globs the second's `org:gym:1:a`).
      const prefixes = [PREFIXES[0], PREFIXES[0], PREFIXES[1], PREFIXES[1]];
      for (const [i, framework] of frameworks.entries()) {
        // No liveness probe: it would PUBLISH on its own and blur the command counts.
        const broker = createRedisBroker({
          ...backend.brokerOptions,
          prefix: prefixes[i],
          probeIntervalMs: 0,
        });
        cleanup.push(() => broker.close());
        const app = await startApp(framework, options(broker, errors, idle[i] ?? 0));
        cleanup.push(() => app.stop());
        apps.push(app);
      }
      const tapped: string[] = [];
      await backend.tap((payload) => void tapped.push(payload));
      const env: Env = {
        apps,
        prefixes,
        rawAs: backend.rawAs,
        raw: (channel, payload) => backend.raw(channel, payload),
        async reached() {
          let calls = 0;
          for (const port of backend.counted) {
            const info = String(await redisCommand(port, 'INFO', 'commandstats'));
            for (const cmd of ['publish', 'spublish', 'evalsha', 'eval', 'xadd'])
              calls += Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
          }
          return calls;
        },
        tapped,
        errors,
      };
      const started = Date.now();
      const stats = await runIsolation(env, ROUNDS, SEED + 1);
      console.log(`redis (${where}): ${JSON.stringify(stats)} in ${Date.now() - started} ms`);
    });
  });
}

// Presence and revocation (helpers/isolation-fleet.ts): two applications (`''` and `org:`) of two
// instances each on one Redis, random joins, leaves and revocations with the same user ids in
// every scope and application.
for (const channels of ['pattern', 'sharded'] as const) {
  describe(`fleet isolation (four instances of two applications, one Redis, ${channels} channels)`, {
    skip: redisSkipReason(),
  }, () => {
    const cleanup: Array<() => Promise<void>> = [];
    after(async () => {
      for (const step of cleanup.reverse()) await step();
    });

    it(`no presence nor revocation crosses scopes or prefixes over ${FLEET_ROUNDS} random rounds`, async () => {
      const redis = await startRedis();
      cleanup.push(() => redis.stop());
      const errors: Error[] = [];
      const prefixes = [PREFIXES[0], PREFIXES[1], PREFIXES[0], PREFIXES[1]];
      const apps: RunningApp[] = [];
      for (const prefix of prefixes) {
        const broker = createRedisBroker({ url: redis.url, channels, prefix });
        cleanup.push(() => broker.close());
        const app = await startApp('node:http', {
          broker,
          resolver: fleetResolver,
          router: fleetRouter,
          eventNamePrefix: 'app',
          presence: { events: true, intervalMs: 500, debounceMs: 20 },
          hooks: { onError: (e: Error) => void errors.push(e) },
        });
        cleanup.push(() => app.stop());
        apps.push(app);
      }
      const publishers = new Map(
        PREFIXES.map((prefix) => {
          const publisher = createPublisher({
            broker: createRedisBroker({ url: redis.url, channels, prefix }),
          });
          cleanup.push(() => publisher.close());
          return [prefix, publisher] as const;
        }),
      );
      const started = Date.now();
      const stats = await runFleetIsolation({ apps, prefixes, publishers }, FLEET_ROUNDS, SEED + 2);
      assert.deepEqual(errors, []);
      console.log(`fleet (${channels}): ${JSON.stringify(stats)} in ${Date.now() - started} ms`);
    });
  });
}
