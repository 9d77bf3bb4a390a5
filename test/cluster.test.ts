/**
 * Three instances, each with its own Redis connections, on one real redis-server: the original's
 * load-balanced deployment in one process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRedisBroker } from '../src/brokers/redis.js';
import { createPublisher, EventrailError } from '../src/index.js';
import type { Broker } from '../src/types.js';
import { queryResolver, queryRouter, type RunningApp, startApp } from './helpers/apps.js';
import {
  connectRaw,
  type RedisProcess,
  redisCli,
  redisSkipReason,
  startRedis,
} from './helpers/redis.js';
import { openSource, type RecordingSource, sleep, waitFor } from './helpers/sse.js';

const NAMES = ['app.students.changed', 'app.plans.changed', 'app.go.event'];

describe('three instances on one Redis', { skip: redisSkipReason() }, () => {
  let redis: RedisProcess;
  const brokers: Broker[] = [];
  const apps: RunningApp[] = [];

  before(async () => {
    redis = await startRedis();
    for (const framework of ['node:http', 'express', 'fetch'] as const) {
      const broker = createRedisBroker({ url: redis.url });
      brokers.push(broker);
      apps.push(
        await startApp(framework, {
          broker,
          resolver: queryResolver,
          router: queryRouter,
          eventNamePrefix: 'app',
        }),
      );
    }
  });
  after(async () => {
    for (const app of apps) await app.stop();
    for (const broker of brokers) await broker.close();
    await redis?.stop();
  });

  async function clients(scope: number): Promise<RecordingSource[]> {
    const opened = apps.map((app) => openSource(`${app.url}/events?scope=${scope}`, NAMES));
    await Promise.all(opened.map((c) => c.opened));
    return opened;
  }

  it('a publish through one instance reaches the clients of all three, and only its scope', async () => {
    const scope1 = await clients(1);
    const scope2 = await clients(2);
    const [first] = apps;
    assert.ok(first);
    await first.sse.publisher.publishEvent('gym:1:students', {
      eventType: 'students.changed',
      data: { id: 123 },
    });
    await waitFor(
      () => scope1.every((c) => c.events.length === 1),
      'every scope-1 client of every instance',
    );
    await sleep(200);
    const id = scope1[0]?.events[0]?.id;
    // The id comes from the shared history: the same on every instance, so a browser may resume
    // on any of them. Tag, then the position and the epoch of the history that issued it.
    assert.match(id ?? '', /^[0-9a-z]{1,7}_[0-9a-z]{1,10}-[0-9a-z]{1,10}-[0-9a-z]{1,7}$/);
    for (const c of scope1) {
      assert.deepEqual(c.events, [{ name: 'app.students.changed', data: '{"id":123}', id }]);
    }
    for (const c of scope2) assert.equal(c.events.length, 0, 'scope 2 receives nothing of scope 1');
    for (const c of [...scope1, ...scope2]) c.close();
  });

  it('one Redis pattern subscription per scope per instance, not per client', async () => {
    const many = await Promise.all([1, 1, 1, 1, 2, 2].flatMap((scope) => clients(scope)));
    const list = await redisCli(redis.port, 'CLIENT', 'LIST', 'TYPE', 'pubsub');
    const subscribers = list.split('\n').filter(Boolean);
    assert.equal(subscribers.length, 3, `one subscriber connection per instance:\n${list}`);
    for (const line of subscribers) assert.match(line, /\bpsub=2\b/, line);
    for (const c of many.flat()) c.close();
  });

  it('delivers what other programs PUBLISH: redis-cli, the Go eventrail shape, non-JSON', async () => {
    const all = await clients(1);
    const [c] = all;
    assert.ok(c);
    await redisCli(
      redis.port,
      'PUBLISH',
      'gym:1:plans',
      '{"event_type":"go.event","data":{"id":7}}',
    );
    await redisCli(redis.port, 'PUBLISH', 'gym:1:plans', 'not json at all');
    await redisCli(redis.port, 'PUBLISH', 'gym:1:plans', '{"event_type":"plans.changed"}');
    await waitFor(() => c.events.length === 3, 'three events');
    assert.deepEqual(c.events, [
      { name: 'app.go.event', data: '{"id":7}', id: undefined },
      { name: 'message', data: 'not json at all', id: undefined },
      { name: 'app.plans.changed', data: '{}', id: undefined },
    ]);
    for (const client of all) client.close();
  });

  it('a standalone publisher (a worker without a server) reaches every instance', async () => {
    const worker = createRedisBroker({ url: redis.url });
    const publisher = createPublisher({ broker: worker });
    const scope1 = await clients(1);
    await publisher.publishType('gym:1:plans', 'plans.changed');
    await waitFor(() => scope1.every((c) => c.events.length === 1), 'all instances');
    await assert.rejects(
      publisher.publishType('gym:1:*', 'plans.changed'),
      (e) => e instanceof EventrailError && e.code === 'invalid-channel',
    );
    await worker.close();
    for (const c of scope1) c.close();
  });

  it('refused publishes never reach Redis', async () => {
    const monitor = openSource(`${apps[0]?.url}/events?scope=1`, NAMES);
    await monitor.opened;
    // What would carry a publish to Redis: a history append (a script or XADD), or a message on
    // any channel. The liveness probes PUBLISH on channels of their own all along: not counted.
    const appends = async () => {
      const info = await redisCli(redis.port, 'INFO', 'commandstats');
      return [
        ...info.matchAll(/^cmdstat_(evalsha|eval|eval_ro|evalsha_ro|fcall|xadd):calls=(\d+)/gm),
      ]
        .map((m) => `${m[1]}=${m[2]}`)
        .join(' ');
    };
    const tap = await connectRaw(redis.port);
    const carried: string[] = [];
    tap.onMessage((m) => {
      if (!m.channel.startsWith('eventrail:probe:')) carried.push(m.channel);
    });
    await tap.command('PSUBSCRIBE', '*');
    const before = await appends();
    const [app] = apps;
    assert.ok(app);
    for (const bad of ['gym:1', 'gym:*:x', 'gym:1:a b', 'gym:1:[a]']) {
      await assert.rejects(
        app.sse.publisher.publishType(bad, 'x.y'),
        (e) => e instanceof EventrailError,
      );
    }
    await assert.rejects(
      app.sse.publisher.publishType('gym:1:x', 'x\ny'),
      (e) => e instanceof EventrailError,
    );
    assert.equal(await appends(), before, 'no history append');
    // A marker through the same path proves the tap would have seen a publish.
    await app.sse.publisher.publishType('gym:1:marker', 'plans.changed');
    await waitFor(() => carried.length > 0, 'the marker on the tap');
    assert.deepEqual(carried, ['gym:1:marker'], 'nothing else was published');
    assert.notEqual(await appends(), before, 'the marker was appended');
    await waitFor(() => monitor.events.length === 1, 'the marker at the monitor');
    assert.equal(monitor.events[0]?.data, '{}');
    await tap.close();
    monitor.close();
  });
});

describe('two applications on one Redis', { skip: redisSkipReason() }, () => {
  it('never see each other’s events or history under different prefixes', async () => {
    const redis = await startRedis();
    const billing = createRedisBroker({ url: redis.url, prefix: 'billing:' });
    const crm = createRedisBroker({ url: redis.url, prefix: 'crm:' });
    const options = { resolver: queryResolver, router: queryRouter, eventNamePrefix: 'app' };
    const a = await startApp('node:http', { ...options, broker: billing });
    const b = await startApp('node:http', { ...options, broker: crm });
    const ca = openSource(`${a.url}/events?scope=1`, NAMES);
    const cb = openSource(`${b.url}/events?scope=1`, NAMES);
    await Promise.all([ca.opened, cb.opened]);
    await waitFor(() => ca.connectionId() !== undefined && cb.connectionId() !== undefined, 'ids');
    await a.sse.publisher.publishEvent('gym:1:students', {
      eventType: 'students.changed',
      data: 'billing',
    });
    await b.sse.publisher.publishEvent('gym:1:students', {
      eventType: 'students.changed',
      data: 'crm',
    });
    await waitFor(() => ca.events.length === 1 && cb.events.length === 1, 'one event each');
    await sleep(200);
    assert.deepEqual(
      ca.events.map((e) => e.data),
      ['"billing"'],
    );
    assert.deepEqual(
      cb.events.map((e) => e.data),
      ['"crm"'],
    );
    const keys = (await redisCli(redis.port, 'KEYS', '*history*')).split('\n').sort();
    assert.deepEqual(keys, ['billing:eventrail:history:{gym:1}', 'crm:eventrail:history:{gym:1}']);
    assert.throws(
      () => createRedisBroker({ url: redis.url, prefix: 'x*' }),
      (e) => e instanceof EventrailError,
    );
    ca.close();
    cb.close();
    await a.stop();
    await b.stop();
    await billing.close();
    await crm.close();
    await redis.stop();
  });
});
