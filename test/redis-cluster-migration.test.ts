/**
 * A slot migration under live traffic on a real Redis Cluster the test starts: SSE clients of two
 * scopes that share one slot, on two instances, while publishers number their events and the slot
 * (its shard channels and history streams) moves to another master mid-run. Every client must get
 * every event exactly once and in order, or a resync at the gap (helpers/gaps.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keySlot } from '../src/brokers/cluster-slot.js';
import { createRedisBroker } from '../src/brokers/redis.js';
import { createPublisher } from '../src/index.js';
import type { Broker } from '../src/types.js';
import { type RedisApp, startRedisApp } from './helpers/apps.js';
import { REDIS_CLUSTER_MS } from './helpers/budgets.js';
import { seededRandom } from './helpers/random.js';
import {
  type RedisClusterProcess,
  redisCommand,
  redisSkipReason,
  startRedisCluster,
} from './helpers/redis.js';
import {
  type Client,
  missed,
  type Published,
  phase,
  publishNumbered,
  startClient,
  tally,
} from './helpers/seq-clients.js';
import { sleep, waitFor } from './helpers/sse.js';

const skip = redisSkipReason();
const CLIENTS_PER_SCOPE = 4;
const PUBLISHERS_PER_SCOPE = 2;

describe('Redis Cluster: a slot migration under live traffic', { skip }, () => {
  let cluster: RedisClusterProcess;
  const apps: RedisApp[] = [];
  const brokers: Broker[] = [];
  /** Two scopes in one slot, and the slot. */
  let scopes: [number, number];
  let slot: number;

  before(
    async () => {
      cluster = await startRedisCluster();
      slot = keySlot('eventrail:{gym:1}');
      let other = 2;
      while (keySlot(`eventrail:{gym:${other}}`) !== slot) other++;
      scopes = [1, other];
      for (const node of [cluster.nodes[0], cluster.nodes[4]]) {
        apps.push(
          await startRedisApp(
            {
              cluster: { rootNodes: [{ url: node?.url ?? assert.fail('no node') }] },
              probeIntervalMs: 500,
              publishTimeoutMs: 1000,
            },
            { eventNamePrefix: 'app', heartbeatMs: 1000 },
          ),
        );
      }
    },
    { timeout: REDIS_CLUSTER_MS },
  );
  after(async () => {
    for (const app of apps) await app.stop();
    for (const broker of brokers) await broker.close();
    await cluster?.stop();
  });

  it('every client gets every event exactly once and in order, or a resync at the gap', async () => {
    const random = seededRandom(19);
    const from = await cluster.masterOf(`eventrail:{gym:${scopes[0]}}`);
    const to = (await cluster.masters()).find((port) => port !== from) ?? assert.fail('no master');
    // Clients that never drop: only the migration can open a gap.
    const clients = new Map<number, Client[]>();
    for (const scope of scopes)
      clients.set(
        scope,
        Array.from({ length: CLIENTS_PER_SCOPE }, (_, i) =>
          startClient([apps[i % apps.length]?.url ?? ''], random, 0, scope),
        ),
      );
    const channel = (scope: number) => `eventrail:{gym:${scope}}`;
    await waitFor(async () => {
      const reply = await redisCommand(from, 'PUBSUB', 'SHARDNUMSUB', ...scopes.map(channel));
      return (
        JSON.stringify(reply) === JSON.stringify([channel(scopes[0]), 2, channel(scopes[1]), 2])
      );
    }, `both instances subscribed on ${from}`);

    const published = new Map<number, Published>(
      scopes.map((scope) => [scope, { acked: [], failed: 0 }]),
    );
    const acked = new Map([...published].map(([scope, { acked }]) => [scope, acked]));
    let migrating = false;
    let duringMigration = 0;
    let stop = false;
    const publishers = scopes.flatMap((scope, s) =>
      Array.from({ length: PUBLISHERS_PER_SCOPE }, (_, i) => {
        const broker = createRedisBroker({
          cluster: { rootNodes: cluster.rootNodes },
          probeIntervalMs: 0,
        });
        brokers.push(broker);
        const p = s * PUBLISHERS_PER_SCOPE + i;
        return publishNumbered(
          createPublisher({ broker }),
          `gym:${scope}:t${p}`,
          p,
          () => !stop,
          published.get(scope) as Published,
          5,
          () => {
            if (migrating) duringMigration++;
          },
        );
      }),
    );
    // Each phase lasts as long as it does on an idle machine and until it has done its part,
    // however busy this one.
    const total = () => [...acked.values()].reduce((sum, list) => sum + list.length, 0);
    await phase(1500, () => total() >= 40, 'events acknowledged before the migration');
    const migrationStarted = Date.now();
    await cluster.migrateSlot(slot, to, async () => {
      // Keys moved, slot not yet handed over: publishes are redirected to the target meanwhile.
      migrating = true;
      await phase(300, () => duringMigration >= 10, 'events acknowledged while the slot moves');
    });
    migrating = false;
    const migrationMs = Date.now() - migrationStarted;
    const migrated = total();
    await phase(2000, () => total() >= migrated + 40, 'events acknowledged after the migration');
    // The instances' subscriptions follow the slot (Redis unsubscribes them, they subscribe again).
    const expected = JSON.stringify([channel(scopes[0]), 2, channel(scopes[1]), 2]);
    const shardSubscribers = () =>
      redisCommand(to, 'PUBSUB', 'SHARDNUMSUB', ...scopes.map(channel));
    await waitFor(
      async () => JSON.stringify(await shardSubscribers()) === expected,
      `both instances subscribed on ${to}`,
    ).catch(() => {}); // the assertion below shows what Redis said
    const followed = await shardSubscribers();
    stop = true;
    await Promise.all(publishers);
    const all = [...acked.values()].flat();

    // The calm tail: until no client misses an event without a resync, for at most 10 s.
    const behind = () =>
      scopes.some((scope) =>
        (clients.get(scope) ?? []).some((c) => missed(c.log, acked.get(scope) ?? []).length > 0),
      );
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && behind()) await sleep(100);
    for (const list of clients.values()) for (const client of list) await client.stop();

    const failed = [...published.values()].reduce((sum, { failed }) => sum + failed, 0);
    const figures = { events: all.length, failedPublishes: failed, duringMigration, migrationMs };
    let resyncs = 0;
    for (const scope of scopes) {
      const result = tally(clients.get(scope) ?? [], acked.get(scope) ?? []);
      console.log(`# slot migration, gym:${scope}: ${JSON.stringify({ ...figures, ...result })}`);
      assert.equal(result.duplicated, 0, `gym:${scope}: no event twice`);
      assert.equal(result.disordered, 0, `gym:${scope}: no event out of order`);
      assert.equal(result.lost, 0, `gym:${scope}: no gap without a resync`);
      resyncs += result.resyncs;
    }
    // The subscriptions followed the slot, and the run proves something.
    assert.deepEqual(
      followed,
      [channel(scopes[0]), 2, channel(scopes[1]), 2],
      `both instances on ${to}`,
    );
    assert.equal(await cluster.masterOf(channel(scopes[0])), to, 'the slot moved');
    assert.ok(
      duringMigration > 0,
      `events were published while the slot moved (${duringMigration})`,
    );
    assert.ok(all.length > 100, `enough events (${all.length})`);
    // Entries written by the slot's new master cannot be replayed after one of the old master's
    // (the history's writer check): the recovery may resync, once per client at most.
    assert.ok(
      resyncs <= CLIENTS_PER_SCOPE * scopes.length,
      `at most one resync a client (${resyncs})`,
    );
  });
});
