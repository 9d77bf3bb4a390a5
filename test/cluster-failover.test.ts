/**
 * The fault-injection oracle on a real Redis Cluster whose master dies mid-run: publishers number
 * their events, clients drop and come back to either instance with their Last-Event-ID, the
 * master of the scope's slot is killed (SIGKILL) and the cluster promotes its replica by itself.
 * Every client must get every acknowledged event exactly once and in order, or a resync at the gap.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRedisBroker } from '../src/brokers/redis.js';
import { createPublisher } from '../src/index.js';
import type { Broker } from '../src/types.js';
import type { RunningApp } from './helpers/apps.js';
import { REDIS_CLUSTER_MS } from './helpers/budgets.js';
import { seededRandom } from './helpers/random.js';
import { type RedisClusterProcess, redisSkipReason, startRedisCluster } from './helpers/redis.js';
import {
  allConnected,
  caughtUp,
  type Published,
  phase,
  publishNumbered,
  startClient,
  startSeqApps,
  tally,
} from './helpers/seq-clients.js';
import { sleep, waitFor } from './helpers/sse.js';

const CLIENTS = 6;
const RUN_MS = 14_000;

describe('fault injection on a Redis Cluster', { skip: redisSkipReason() }, () => {
  let cluster: RedisClusterProcess;
  const brokers: Broker[] = [];
  let apps: RunningApp[] = [];
  const make = (): Broker => {
    const broker = createRedisBroker({
      cluster: { rootNodes: cluster.rootNodes },
      publishTimeoutMs: 1000,
      probeIntervalMs: 1000,
    });
    brokers.push(broker);
    return broker;
  };

  before(
    async () => {
      cluster = await startRedisCluster();
      apps = await startSeqApps(make);
    },
    { timeout: REDIS_CLUSTER_MS },
  );
  after(async () => {
    for (const app of apps) await app.stop();
    for (const broker of brokers) await broker.close();
    await cluster?.stop();
  });

  it('a master killed mid-run: every event exactly once and in order, or a resync at the gap', async () => {
    const master = await cluster.masterOf('{gym:1}');
    const random = seededRandom(19);
    // Half of the clients hop often, half keep their stream for seconds: through the failover.
    // They drop and come back at random until the calm tail; each phase of the run lasts as long as
    // it does on an idle machine and until it has done its part, however busy this one.
    let calmAt = Number.POSITIVE_INFINITY;
    const clients = Array.from({ length: CLIENTS }, (_, i) =>
      startClient(
        apps.map((a) => a.url),
        random,
        () => calmAt,
        1,
        i % 2 === 0 ? [200, 1000] : [4000, 8000],
      ),
    );
    await allConnected(clients);
    const started = Date.now();
    const published: Published = { acked: [], failed: 0 };
    const { acked } = published;
    let publishing = true;
    const publishers = [0, 1].map((p) =>
      publishNumbered(
        createPublisher({ broker: make() }),
        `gym:1:t${p}`,
        p,
        () => publishing,
        published,
        15,
      ),
    );
    await phase(RUN_MS / 4, () => acked.length >= 20, 'events acknowledged before the kill');
    const killedAt = Date.now();
    await (cluster.nodes.find((n) => n.port === master) ?? assert.fail('no master')).kill();
    const other = cluster.nodes.find((n) => n.port !== master) ?? assert.fail('no node');
    await waitFor(
      async () => (await cluster.masterOf('{gym:1}', other.port).catch(() => master)) !== master,
      'the replica promoted',
      60_000,
    );
    const promoted = Date.now() - killedAt;
    const atPromotion = acked.length;
    await phase(
      Math.max(0, started + RUN_MS - 2000 - Date.now()),
      () => acked.length >= atPromotion + 20 && acked.length > 100,
      'events acknowledged after the promotion',
    );
    // The calm tail: no more drops; everyone catches up, for at most 15 s; then 1 s more for
    // anything late (a duplicate) to show.
    calmAt = Date.now();
    publishing = false;
    await Promise.all(publishers);
    await caughtUp(clients, acked, 15_000);
    await sleep(1000);
    for (const client of clients) await client.stop();

    const result = tally(clients, acked);
    const reconnects = clients.reduce((sum, c) => sum + c.reconnects, 0);
    console.log(
      `# cluster failover: ${JSON.stringify({ events: acked.length, failedPublishes: published.failed, reconnects, promotedMs: promoted, ...result })}`,
    );
    assert.ok(promoted > 0, 'the replica was promoted');
    assert.ok(acked.length > 100, `enough events were published (${acked.length})`);
    assert.deepEqual(
      { lost: result.lost, duplicated: result.duplicated, disordered: result.disordered },
      { lost: 0, duplicated: 0, disordered: 0 },
    );
  });
});
