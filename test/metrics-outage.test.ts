/**
 * `eventrail/metrics` through a real Redis outage: the subscriber connection is cut and cannot come
 * back (a proxy refuses it) while events are published. `eventrail_broker_up` reads 0 until it is
 * back, and a browser that comes back meanwhile with its Last-Event-ID is replayed what it missed
 * from the history, counted by `eventrail_events_replayed_total`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createRedisBroker } from '../src/brokers/redis.js';
import { createPublisher } from '../src/index.js';
import { createMetrics } from '../src/integrations/metrics.js';
import { startRedisApp } from './helpers/apps.js';
import { type RedisProcess, redisCli, redisSkipReason, startRedis } from './helpers/redis.js';
import { openRaw, type RawStream, waitFor } from './helpers/sse.js';
import { startProxy, type TcpProxy } from './helpers/tcp-proxy.js';

/** One sample of the registry's exposition text, or undefined. */
async function sample(registry: Registry, name: string): Promise<number | undefined> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

const data = (s: RawStream) =>
  s.events.filter((e) => e.event === 'x.y').map((e) => JSON.parse(e.data) as number);

describe('metrics during a Redis outage', { skip: redisSkipReason() }, () => {
  let redis: RedisProcess;
  let proxy: TcpProxy;
  before(async () => {
    redis = await startRedis();
    proxy = await startProxy(redis.port);
  });
  after(async () => {
    await proxy?.close();
    await redis?.stop();
  });

  it('broker_up reads 0 while the subscriber is down; a replay meanwhile is counted', async () => {
    const registry = new Registry();
    const metrics = createMetrics({ registry });
    const app = await startRedisApp(
      // A probe answered within 2 s counts as alive: a shorter bound reads a busy machine as an
      // outage (seen at a load average of 28: broker_up 0 before the outage began).
      { url: proxy.url, probeIntervalMs: 200, publishTimeoutMs: 2_000 },
      { hooks: metrics.hooks },
    );
    metrics.observe(app.sse);
    const direct = createRedisBroker({ url: redis.url });
    const publisher = createPublisher({ broker: direct });
    const publish = (n: number) => publisher.publishEvent('gym:1:a', { eventType: 'x.y', data: n });
    // `stays` keeps the scope's hub up; `leaves` goes away and comes back during the outage.
    const stays = await openRaw(`${app.url}/events`);
    const leaves = await openRaw(`${app.url}/events`);
    await publish(0);
    await waitFor(() => data(stays).length === 1 && data(leaves).length === 1, 'the first event');
    await waitFor(async () => (await sample(registry, 'eventrail_broker_up')) === 1, 'broker up');
    const lastId = leaves.events.at(-1)?.id ?? '';
    leaves.abort();

    proxy.refuseNew(true);
    await redisCli(redis.port, 'CLIENT', 'KILL', 'TYPE', 'pubsub');
    await waitFor(
      async () => (await sample(registry, 'eventrail_broker_up')) === 0,
      'broker down',
      10_000,
    );
    await publish(1);
    await publish(2);
    const back = await openRaw(`${app.url}/events`, { headers: { 'Last-Event-ID': lastId } });
    await waitFor(() => data(back).length === 2, 'the replay during the outage', 10_000);
    assert.deepEqual(data(back), [1, 2]);
    assert.equal(await sample(registry, 'eventrail_events_replayed_total'), 2);
    assert.equal(await sample(registry, 'eventrail_broker_up'), 0, 'still down');

    proxy.refuseNew(false);
    await waitFor(
      async () => (await sample(registry, 'eventrail_broker_up')) === 1,
      'broker up',
      10_000,
    );
    await publish(3);
    await waitFor(() => data(back).length === 3 && data(stays).length === 4, 'live again', 10_000);
    assert.deepEqual(data(back), [1, 2, 3], 'the recovery after the outage repeats nothing');
    assert.deepEqual(data(stays), [0, 1, 2, 3], 'the stream that stayed recovered the two');
    assert.equal(await sample(registry, 'eventrail_events_replayed_total'), 2);
    stays.abort();
    back.abort();
    await app.stop();
    await direct.close();
  });
});
