/**
 * `npm run demo:cluster` on a real Redis Cluster: with REDIS_CLUSTER (a cluster this file starts),
 * an edit through one gym instance reaches the streams on both instances, for gyms on every
 * shard, and the students live on their gym's shard. (DEMO_REDIS=cluster, a cluster the demo
 * starts itself: test/gym-own-cluster.test.ts.)
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { startDemoCluster } from './e2e/cluster.js';
import {
  clusterPerFile,
  editsCrossInstances,
  onePerMaster,
  redisClusterEnv,
} from './helpers/cluster-examples.js';
import { type RedisClusterProcess, redisCommand, redisSkipReason } from './helpers/redis.js';

const skip = redisSkipReason();
const getCluster = clusterPerFile();

describe('demo:cluster on a Redis Cluster', { skip, concurrency: 1 }, () => {
  let cluster: RedisClusterProcess;
  before(async () => {
    cluster = await getCluster();
  });

  it('REDIS_CLUSTER: an edit through one instance reaches streams on both, on every shard', async () => {
    const gyms = await onePerMaster(cluster, 'gym', 1);
    const demo = await startDemoCluster({ REDIS_CLUSTER: redisClusterEnv(cluster) });
    try {
      assert.match(demo.output(), /Redis Cluster, redis:\/\/127\.0\.0\.1:/);
      await editsCrossInstances(
        demo,
        gyms.map(([gym]) => gym),
      );
      for (const [gym, master] of gyms) {
        // The gym's data on the master of its scope, next to eventrail's history of it.
        const students = `eventrail-demo:{gym:${gym}}:students`;
        assert.equal(
          await redisCommand(master, 'EXISTS', `eventrail-demo:{gym:${gym}}:next-id`),
          1,
        );
        assert.equal(await redisCommand(master, 'HLEN', students), 0, 'deleted again');
        assert.ok(
          Number(await redisCommand(master, 'XLEN', `eventrail:history:{gym:${gym}}`)) >= 2,
        );
      }
    } catch (err) {
      throw new Error(`${String(err)}\n--- demo output ---\n${demo.output()}`, { cause: err });
    } finally {
      await demo.stop();
    }
  });
});
