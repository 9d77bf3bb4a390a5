/**
 * The Redis broker on a real Redis Cluster the test starts (three masters, three replicas): the
 * broker contract, every scope on the shard that owns its slot (shard channel and history alike),
 * all three shards carrying traffic between two instances connected through different nodes, and
 * a liveness probe on every master.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createCluster } from 'redis';
import { keySlot } from '../src/brokers/cluster-slot.js';
import { createRedisBroker } from '../src/brokers/redis.js';
import { EventrailError } from '../src/errors.js';
import { createPublisher } from '../src/index.js';
import { createMetrics } from '../src/integrations/metrics.js';
import { type RedisApp, startRedisApp } from './helpers/apps.js';
import { brokerContract, collector, withDeadline } from './helpers/broker-contract.js';
import { basicExampleDelivers } from './helpers/examples.js';
import {
  connectRaw,
  type RedisClusterProcess,
  redisCli,
  redisCommand,
  redisSkipReason,
  sharedRedisCluster,
} from './helpers/redis.js';
import { rawPublishArgs } from './helpers/redis-brokers.js';
import { openRaw, type RawStream, sleep, waitFor } from './helpers/sse.js';
import { startProxy } from './helpers/tcp-proxy.js';

const skip = redisSkipReason();
const getCluster = sharedRedisCluster();

brokerContract(
  'Redis broker on a Redis Cluster',
  async ({ onError }) => {
    const cluster = await getCluster();
    const broker = createRedisBroker({ cluster: { rootNodes: cluster.rootNodes }, onError });
    const port = (cluster.nodes[0] ?? assert.fail('no node')).port;
    return {
      broker,
      async publishRaw(channel, payload) {
        await redisCli(port, '-c', ...rawPublishArgs('sharded', channel, payload));
      },
      cleanup: () => broker.close(),
    };
  },
  { skip, outsidePublisher: true },
);

const payloadEvents = (s: RawStream) =>
  s.events.filter((e) => e.event !== undefined && !e.event.startsWith('eventrail.'));

describe('Redis broker on a Redis Cluster', { skip }, () => {
  let cluster: RedisClusterProcess;
  /** One scope per master: `[scope key, master port]`. */
  const scopes: Array<[string, number]> = [];
  before(async () => {
    cluster = await getCluster();
    const masters = new Set<number>();
    for (let i = 1; masters.size < 3 && i < 1000; i++) {
      const master = await cluster.masterOf(`eventrail:{gym:${i}}`);
      if (masters.has(master)) continue;
      masters.add(master);
      scopes.push([`gym:${i}`, master]);
    }
    assert.equal(scopes.length, 3, 'a scope on each of the three masters');
  });

  it('computes slots as Redis does: a scope, its shard channel and its history share one', async () => {
    const port = (cluster.nodes[0] ?? assert.fail('no node')).port;
    for (const key of ['gym:1', 'org:42', 'gy:10', 'é:漢字', 'a{b}:c']) {
      const slot = Number(await redisCommand(port, 'CLUSTER', 'KEYSLOT', `eventrail:{${key}}`));
      assert.equal(keySlot(`eventrail:{${key}}`), slot, key);
      assert.equal(keySlot(`eventrail:history:{${key}}`), slot, `${key}: history in the same slot`);
    }
  });

  it('two instances through different nodes fan out to each other on all three shards', async () => {
    const [a, b] = [cluster.nodes[0], cluster.nodes[4]].map((node) => [
      { url: node?.url ?? assert.fail('no node') },
    ]);
    const errors: Error[] = [];
    const apps: RedisApp[] = [];
    const streams: RawStream[] = [];
    try {
      for (const rootNodes of [a, b]) {
        apps.push(
          await startRedisApp(
            { cluster: { rootNodes: rootNodes ?? [] }, onError: (e) => errors.push(e) },
            { eventNamePrefix: 'app' },
          ),
        );
      }
      for (const app of apps) {
        for (const [scope] of scopes) {
          const stream = await openRaw(`${app.url}/events?scope=${scope.slice(4)}`);
          await waitFor(() => stream.events.length >= 1, 'the connected event');
          streams.push(stream);
        }
      }
      for (const [scope, master] of scopes) {
        const channel = `eventrail:{${scope}}`;
        const reply = await redisCommand(master, 'PUBSUB', 'SHARDNUMSUB', channel);
        assert.deepEqual(reply, [channel, 2], `${scope}: both instances on its master ${master}`);
      }
      for (const [i, app] of apps.entries())
        for (const [scope] of scopes)
          await app.sse.publisher.publishEvent(`${scope}:students`, {
            eventType: 'students.changed',
            data: { from: i, scope },
          });
      await waitFor(
        () => streams.every((s) => payloadEvents(s).length === 2),
        'both events at every stream',
        5000,
      );
      await sleep(200);
      for (const [i, stream] of streams.entries()) {
        const [scope] = scopes[i % scopes.length] ?? assert.fail('no scope');
        assert.deepEqual(
          payloadEvents(stream).map((e) => JSON.parse(e.data)),
          [
            { from: 0, scope },
            { from: 1, scope },
          ],
          `stream ${i} of ${scope}`,
        );
        assert.ok(
          payloadEvents(stream).every((e) => e.id !== undefined),
          'ids from the history',
        );
      }
      for (const [scope, master] of scopes) {
        const length = await redisCommand(master, 'XLEN', `eventrail:history:{${scope}}`);
        assert.ok(Number(length) >= 2, `${scope}: its history on its master ${master}`);
      }
      assert.deepEqual(errors, []);
    } finally {
      for (const stream of streams) stream.abort();
      for (const app of apps) await app.stop();
    }
  });

  it('probes every master: a healthy cluster is never reported silent', async () => {
    const errors: Error[] = [];
    const broker = createRedisBroker({
      cluster: { rootNodes: cluster.rootNodes },
      probeIntervalMs: 100,
      publishTimeoutMs: 300,
      onError: (e) => errors.push(e),
    });
    try {
      const got = collector('every scope');
      for (const [scope] of scopes) await broker.subscribe(`${scope}:*`, got.handler);
      const spublished = async (port: number): Promise<number> => {
        const info = String(await redisCommand(port, 'INFO', 'commandstats'));
        return Number(/^cmdstat_spublish:calls=(\d+)/m.exec(info)?.[1] ?? 0);
      };
      const before = await Promise.all(scopes.map(([, master]) => spublished(master)));
      await sleep(1200);
      const probes = await Promise.all(scopes.map(([, master]) => spublished(master)));
      probes.forEach((after, i) => {
        const sent = after - (before[i] ?? 0);
        assert.ok(sent >= 3, `master ${scopes[i]?.[1]} was probed (${sent} probes)`);
      });
      assert.deepEqual(errors, [], 'no probe missed');
      assert.equal(broker.state?.(), 'ready');
      for (const [, master] of scopes) {
        const probes = await redisCommand(master, 'PUBSUB', 'SHARDCHANNELS', 'eventrail:probe:*');
        assert.ok(Array.isArray(probes) && probes.length >= 1, `a probe channel on ${master}`);
      }
      for (const [scope] of scopes) await broker.publish(`${scope}:a`, scope);
      await got.waitFor(3);
    } finally {
      await withDeadline(broker.close(), 5_000, 'close()');
    }
  });

  it('recovers what a shard published while its subscriber connection was down', async () => {
    const [scope, master] = scopes[1] ?? assert.fail('no scope');
    const publisherBroker = createRedisBroker({ cluster: { rootNodes: cluster.rootNodes } });
    const publisher = createPublisher({ broker: publisherBroker });
    const app = await startRedisApp({ cluster: { rootNodes: cluster.rootNodes } });
    const stream = await openRaw(`${app.url}/events?scope=${scope.slice(4)}`);
    // One connection to the master, opened now: while it refuses new ones, this one still talks.
    const admin = await connectRaw(master);
    try {
      await waitFor(() => stream.events.length >= 1, 'the connected event');
      await publisher.publishEvent(`${scope}:a`, { eventType: 'x.y', data: -1 });
      await waitFor(() => payloadEvents(stream).length === 1, 'the first event');
      // The shard's subscriber cannot come back until maxclients is restored.
      await admin.command('CONFIG', 'SET', 'maxclients', '1');
      await admin.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
      for (let i = 0; i < 10; i++)
        await publisher.publishEvent(`${scope}:a`, { eventType: 'x.y', data: i });
      await sleep(300);
      await admin.command('CONFIG', 'SET', 'maxclients', '10000');
      await waitFor(() => payloadEvents(stream).length >= 11, 'the 10 events, recovered', 10_000);
      await sleep(200);
      assert.deepEqual(
        payloadEvents(stream).map((e) => Number(e.data)),
        [-1, ...Array(10).keys()],
      );
    } finally {
      await admin.command('CONFIG', 'SET', 'maxclients', '10000').catch(() => undefined);
      await admin.close();
      stream.abort();
      await app.stop();
      await publisherBroker.close();
    }
  });

  it('finds the shard whose subscription receives nothing, names it, replaces it and recovers', async () => {
    const [scope, master] = scopes[2] ?? assert.fail('no scope');
    // The master announces a proxy's port: the broker's connections to it pass the proxy, which
    // can turn its subscriber connection into a black hole (open, nothing passes).
    const proxy = await startProxy(master);
    const admin = await connectRaw(master);
    const announce = async (port: number): Promise<void> => {
      await admin.command('CONFIG', 'SET', 'cluster-announce-bus-port', String(master + 10000));
      await admin.command('CONFIG', 'SET', 'cluster-announce-port', String(port));
      const expected = port === 0 ? master : port;
      // Every node must say so: node-redis may discover the slots from any of them.
      for (const node of cluster.nodes)
        await waitFor(
          async () => {
            const slots = JSON.stringify(await redisCommand(node.port, 'CLUSTER', 'SLOTS'));
            return slots.includes(`"127.0.0.1",${expected}`);
          },
          `the master announced on ${expected} to ${node.port}`,
          10_000,
        );
    };
    const errors: Error[] = [];
    let app: RedisApp | undefined;
    let stream: RawStream | undefined;
    const publisherBroker = createRedisBroker({ cluster: { rootNodes: cluster.rootNodes } });
    try {
      await announce(proxy.port);
      app = await startRedisApp({
        cluster: { rootNodes: [{ url: proxy.url }] },
        probeIntervalMs: 200,
        publishTimeoutMs: 1000,
        onError: (e) => errors.push(e),
      });
      const s = await openRaw(`${app.url}/events?scope=${scope.slice(4)}`);
      stream = s;
      await waitFor(() => s.events.length >= 1, 'the connected event');
      // The app's subscriber connection to the master (and the publishing broker's, idle).
      assert.ok(proxy.blackholeSubscribers() >= 1, "the master's subscriber connection");
      const publisher = createPublisher({ broker: publisherBroker });
      for (let i = 0; i < 10; i++)
        await publisher.publishEvent(`${scope}:a`, { eventType: 'x.y', data: i });
      await waitFor(() => payloadEvents(s).length >= 10, 'the 10 events, recovered', 10_000).catch(
        (err: unknown) => {
          throw new Error(
            `${err}; onError: ${errors.map((e) => `${e.message} (${String(e.cause)})`).join('; ')}`,
          );
        },
      );
      await sleep(300);
      assert.deepEqual(
        payloadEvents(s).map((e) => Number(e.data)),
        [...Array(10).keys()],
      );
      const silent = () => errors.filter((e) => /receives nothing/.test(e.message));
      const [reported] = silent();
      assert.ok(reported, 'the recycle is reported');
      // Replaced, not merely recovered from the history after each failed probe.
      const reports = silent().length;
      await sleep(1500);
      assert.equal(silent().length, reports, 'the new subscription passes its probes');
      assert.equal(app.broker.state?.(), 'ready');
      assert.match(reported.message, new RegExp(`on 127\\.0\\.0\\.1:${proxy.port}:`));
    } finally {
      stream?.abort();
      await app?.stop();
      await publisherBroker.close();
      await announce(0);
      await admin.close();
      await proxy.close();
    }
  });

  it('stats() and health() name a master that stops receiving, until it is back', async () => {
    const [scope, master] = scopes[1] ?? assert.fail('no scope');
    const errors: Error[] = [];
    const app = await startRedisApp({
      cluster: { rootNodes: cluster.rootNodes },
      probeIntervalMs: 200,
      publishTimeoutMs: 500,
      onError: (e) => errors.push(e),
    });
    const registry = new Registry();
    const metrics = createMetrics({ registry });
    metrics.observe(app.sse);
    const silentGauge = async () =>
      /^eventrail_broker_silent_shards (\d+)$/m.exec(await registry.metrics())?.[1];
    const stream = await openRaw(`${app.url}/events?scope=${scope.slice(4)}`);
    const admin = await connectRaw(master);
    const name = `127.0.0.1:${master}`;
    try {
      await waitFor(() => stream.events.length >= 1, 'the connected event');
      await waitFor(() => app.sse.health().ok, 'healthy');
      assert.deepEqual(app.sse.stats().silentShards, []);
      // Every client of the master waits: the probe's token never comes back from it.
      await admin.command('CLIENT', 'PAUSE', '3000', 'ALL');
      await waitFor(
        () => app.sse.health().silentShards.includes(name),
        `health names ${name}`,
        3000,
      );
      const health = app.sse.health();
      assert.deepEqual(health.silentShards, [name], 'only the paused master');
      assert.equal(health.ok, false);
      assert.equal(health.broker, 'connecting');
      assert.deepEqual(app.sse.stats().silentShards, [name]);
      assert.equal(await silentGauge(), '1');
      assert.ok(
        errors.some((e) => e.message.includes(`receives nothing on ${name}`)),
        'onError names it too',
      );
      await waitFor(() => app.sse.health().ok, 'healthy once the pause is over', 15_000);
      assert.deepEqual(app.sse.health().silentShards, []);
      assert.deepEqual(app.sse.stats().silentShards, []);
      assert.equal(await silentGauge(), '0');
    } finally {
      await admin.command('CLIENT', 'UNPAUSE').catch(() => undefined);
      await admin.close();
      stream.abort();
      await app.stop();
    }
  });

  it('runs examples/basic on the cluster named by REDIS_CLUSTER', async () => {
    const nodes = cluster.nodes.slice(0, 2).map((node) => `127.0.0.1:${node.port}`);
    const output = await basicExampleDelivers({ REDIS_CLUSTER: nodes.join(',') });
    assert.match(output, /Redis Cluster broker/);
  });

  it('publishes with a cluster client it was given and leaves it open after close()', async () => {
    const mine = createCluster({ rootNodes: [...cluster.rootNodes] });
    await mine.connect();
    const broker = createRedisBroker({ cluster: mine });
    try {
      const got = collector('every scope');
      for (const [scope] of scopes) await broker.subscribe(`${scope}:*`, got.handler);
      for (const [scope] of scopes) await broker.publish(`${scope}:a`, scope);
      await got.waitFor(3);
      assert.deepEqual(got.messages.map((m) => m.payload).sort(), scopes.map(([s]) => s).sort());
      await broker.close();
      assert.equal(mine.isOpen, true, 'still open');
      const [scope, master] = scopes[0] ?? assert.fail('no scope');
      assert.equal(
        await mine.sPublish(`eventrail:{${scope}}`, 'x'),
        0,
        `nobody listens on ${master} any more`,
      );
    } finally {
      await withDeadline(broker.close(), 5_000, 'close()');
      await mine.close();
    }
  });

  it('refuses the pattern mode on a cluster', () => {
    for (const options of [{ channels: 'pattern' as const }, { announce: ['pattern' as const] }])
      assert.throws(
        () => createRedisBroker({ cluster: { rootNodes: cluster.rootNodes }, ...options }),
        (err: unknown) => err instanceof EventrailError && err.code === 'invalid-option',
      );
  });
});
