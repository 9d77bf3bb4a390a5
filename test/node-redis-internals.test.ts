/**
 * The node-redis private fields the cluster's slot-move follower reads
 * (src/brokers/node-redis-internals.ts), held against every node-redis major the `redis` peer
 * range accepts (5.x through the `redis5` alias, 6.x), on a real Redis Cluster: the start-up
 * check finds them all, and the follower's reads find each master's shard connection and its
 * listener table. A release that renames them fails here before it leaves moves unfollowed. Also
 * the cluster connection's readiness, which once read an `isReady` its publisher has not got.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { createCluster } from 'redis';
import { createCluster as createCluster5 } from 'redis5';
import { keySlot } from '../src/brokers/cluster-slot.js';
import {
  type ClusterFields,
  missingInternals,
  shardConnections,
  shardListening,
} from '../src/brokers/node-redis-internals.js';
import { connectCluster } from '../src/brokers/redis-cluster.js';
import type { ConnectionEvents } from '../src/brokers/redis-connection.js';
import { redisSkipReason, sharedRedisCluster } from './helpers/redis.js';

const skip = redisSkipReason();
const getCluster = sharedRedisCluster();

const version = (name: string): string =>
  (createRequire(import.meta.url)(`${name}/package.json`) as { version: string }).version;

/** A cluster client of one node-redis major, as the tests use it. */
interface AnyCluster extends ClusterFields {
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): void;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  sSubscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
}

type CreateCluster = (options: { rootNodes: Array<{ url: string }> }) => AnyCluster;
const majors: ReadonlyArray<{ name: string; major: string; create: CreateCluster }> = [
  { name: 'redis', major: '6', create: createCluster as unknown as CreateCluster },
  { name: 'redis5', major: '5', create: createCluster5 as unknown as CreateCluster },
];

it('the peer range names exactly the majors tested here', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    peerDependencies: Record<string, string>;
  };
  assert.equal(pkg.peerDependencies.redis, '>=5.0.0 <7');
  for (const { name, major } of majors) assert.equal(version(name).split('.')[0], major, name);
});

it('names what a cluster client lacks', () => {
  const slots = Array.from({ length: 16384 }, () => ({ master: {} }));
  assert.deepEqual(missingInternals({ masters: [{}], slots }), ['master.pubSub']);
  assert.deepEqual(missingInternals({ masters: [{ pubSub: { client: {} } }], slots }), [
    'master.pubSub.connectPromise',
    'master.pubSub.client.on',
    'master.pubSub.client.sSubscribe',
    'master.pubSub.client.sUnsubscribe',
    'master.pubSub.client.getPubSubListeners',
  ]);
});

describe('node-redis internals on a Redis Cluster', { skip }, () => {
  for (const { name, create } of majors) {
    it(`node-redis ${version(name)} has every field the move follower reads`, async () => {
      const { rootNodes } = await getCluster();
      const cluster = create({ rootNodes: [...rootNodes] });
      cluster.on('error', () => {});
      await cluster.connect();
      try {
        // A shard subscription on every master: each gets its shard Pub/Sub connection.
        const channels: string[] = [];
        for (const master of cluster.masters as ReadonlyArray<{ address: string }>) {
          let n = 0;
          while (cluster.slots[keySlot(`{probe.${n}}`)]?.master !== master) n++;
          channels.push(`{probe.${n}}`);
          await cluster.sSubscribe(`{probe.${n}}`, () => {});
        }
        assert.deepEqual(missingInternals(cluster), []);
        assert.equal(shardConnections(cluster).length, cluster.masters.length);
        for (const channel of channels) {
          const shard = await shardListening(cluster, keySlot(channel), channel);
          assert.ok(shard, `${channel} is in its master's listener table`);
          assert.equal(await shardListening(cluster, keySlot(channel), `${channel}x`), undefined);
        }
      } finally {
        await cluster.close();
      }
    });
  }

  it("a cluster connection is ready only while its publisher is (it has no 'isReady' of a client)", async () => {
    const { rootNodes } = await getCluster();
    const given = createCluster({ rootNodes: [...rootNodes] });
    given.on('error', () => {});
    await given.connect();
    const reports: Error[] = [];
    const events: ConnectionEvents = {
      failure: () => {},
      up: () => {},
      gap: () => {},
      report: (error) => reports.push(error),
      moving: () => {},
      moved: () => {},
    };
    const connection = connectCluster(given, events, 5000);
    try {
      await connection.ready;
      assert.deepEqual(reports, [], 'no missing internals reported');
      assert.equal(connection.isReady(), true);
      // The publisher (the given cluster client) goes; the broker's own subscriber stays.
      await given.close();
      assert.equal(connection.isReady(), false);
    } finally {
      await connection.close([], 5000);
    }
  });
});
