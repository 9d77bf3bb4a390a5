/**
 * The sharded channel mode (`channels: 'sharded'`) on one real Redis >= 7: the broker contract,
 * no pattern in Redis however many scopes are open, other programs' SPUBLISH, the separation from
 * the pattern mode and a fleet migrating between them without losing an event, the liveness probe
 * and the recovery after a lost subscriber connection.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient } from 'redis';
import { createRedisBroker, type RedisBrokerOptions } from '../src/brokers/redis.js';
import { decodeShardPayload, encodeShardPayload, shardHead } from '../src/brokers/redis-shard.js';
import { EventrailError } from '../src/errors.js';
import { startRedisApp } from './helpers/apps.js';
import { collector, QUIET_MS, rejectsWithCode, withDeadline } from './helpers/broker-contract.js';
import { basicExampleDelivers } from './helpers/examples.js';
import { randomText, seededRandom } from './helpers/random.js';
import { redisCli, redisCommand, redisSkipReason, startRedis } from './helpers/redis.js';
import { redisBrokerContracts, redisPerFile } from './helpers/redis-brokers.js';
import { openRaw, type RawStream, sleep, waitFor } from './helpers/sse.js';

const skipRedis = redisSkipReason();
const SHARDED = { channels: 'sharded' } as const;

// One redis-server for this file, started by the first test that needs it.
const getRedis = redisPerFile();

redisBrokerContracts('Redis broker, sharded', getRedis, 'sharded');

const payloadEvents = (s: RawStream) =>
  s.events.filter((e) => e.event !== undefined && !e.event.startsWith('eventrail.'));

async function connected(url: string): Promise<RawStream> {
  const stream = await openRaw(url);
  await waitFor(() => stream.events.length >= 1, 'the connected event');
  return stream;
}

async function pubsub(port: number, ...args: string[]): Promise<unknown> {
  return await redisCommand(port, 'PUBSUB', ...args);
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  } catch {
    return false;
  }
}

describe('the sharded wire', () => {
  const seed = Number(process.env.SHARD_WIRE_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const tricky = [
    '',
    'plain',
    '{}',
    '{"',
    '{"a',
    '{"a":1}',
    '{"eventrail_raw":"a"}',
    '{"channel":"gym:9:x","event_type":"a.b"}',
    '{"event_type":"a.b","data":{"channel":"x"}}',
    '[1]',
    '"s"',
  ];

  it(`gives back the channel and the payload as published (seed ${seed})`, () => {
    const random = seededRandom(seed);
    for (let i = 0; i < 2000; i++) {
      const channel = `gym:${randomText(random, 8) || '1'}:${randomText(random, 12)}`;
      const payload =
        random() < 0.3
          ? (tricky[Math.floor(random() * tricky.length)] as string)
          : random() < 0.5
            ? `{"event_type":"a.b","data":${JSON.stringify(randomText(random, 80))}}`
            : randomText(random, 120);
      const wire = encodeShardPayload(channel, payload);
      assert.deepEqual(decodeShardPayload(wire), { channel, payload }, `seed ${seed}, #${i}`);
      // A JSON object (all eventrail publishes) stays one, with its channel; anything that does
      // not look like one travels as a string in one.
      if (isJsonObject(payload) || !payload.startsWith('{"'))
        assert.equal(JSON.parse(wire).channel, channel, `seed ${seed}, #${i}: JSON on the wire`);
    }
  });

  it('reads an announce of the history script back as the pattern mode announces it', () => {
    const payload = '{"event_type":"students.changed","data":{"id":1}}';
    const tail = ',"eventrail_id":"1700000000000-0"}';
    // What the append script SPUBLISHes: the head, the event's own fields, the id.
    const wire = shardHead('gym:1:students') + payload.slice(1, -1) + tail;
    assert.deepEqual(decodeShardPayload(wire), {
      channel: 'gym:1:students',
      payload: payload.slice(0, -1) + tail,
    });
  });

  it('reads the channel of another program anywhere in the object, and refuses the rest', () => {
    const go = '{"event_type":"a.b","data":{},"channel":"gym:1:a"}';
    assert.deepEqual(decodeShardPayload(go), { channel: 'gym:1:a', payload: go });
    for (const raw of ['', 'x', '[1]', '{"event_type":"a.b"}', '{"channel":7}', '{"channel":"a"'])
      assert.equal(decodeShardPayload(raw), undefined, raw);
  });
});

describe('createRedisBroker channel options', () => {
  const url = 'redis://127.0.0.1:1';
  const fakePublisher = { publish: async () => 0 };
  const fakeSubscriber = { pSubscribe: async () => undefined, pUnsubscribe: async () => undefined };
  const invalid: [string, RedisBrokerOptions][] = [
    ['an unknown mode', { url, channels: 'shards' as 'sharded' }],
    ['announce empty', { url, announce: [] }],
    ['announce twice the same', { url, announce: ['pattern', 'pattern'] }],
    ['announce an unknown mode', { url, announce: ['pattern', 'both' as 'sharded'] }],
    ['a prefix with a hash tag', { url, ...SHARDED, prefix: 'a{b}:' }],
    ['a historyKeyPrefix with a brace', { url, announce: ['sharded'], historyKeyPrefix: 'h{' }],
    [
      'a subscriber without sSubscribe',
      { publisher: fakePublisher, subscriber: fakeSubscriber, ...SHARDED },
    ],
    [
      'a publisher without sPublish nor a history',
      { publisher: fakePublisher, subscriber: fakeSubscriber, announce: ['sharded'] },
    ],
  ];
  for (const [what, options] of invalid) {
    it(`throws invalid-option for ${what}`, () => {
      assert.throws(
        () => createRedisBroker(options),
        (err: unknown) => err instanceof EventrailError && err.code === 'invalid-option',
      );
    });
  }

  it('refuses a pattern whose scope is not literal with invalid-pattern', async () => {
    const broker = createRedisBroker({ url, ...SHARDED, probeIntervalMs: 0 });
    try {
      for (const pattern of ['gym:*', 'gym:1*:a', '*', 'gym:[1]:*'])
        await rejectsWithCode(
          broker.subscribe(pattern, () => undefined),
          'invalid-pattern',
          pattern,
        );
    } finally {
      await broker.close();
    }
  });
});

describe('Redis broker, sharded mode', { skip: skipRedis }, () => {
  it('holds no pattern in Redis however many scopes are open: one shard channel per scope', async () => {
    const redis = await startRedis();
    const broker = createRedisBroker({ url: redis.url, ...SHARDED });
    try {
      const scopes = 300;
      const got = collector('all scopes');
      const subs = await Promise.all(
        Array.from({ length: scopes }, (_, i) => broker.subscribe(`gym:${i}:*`, got.handler)),
      );
      // A second subscription of a scope shares its shard channel.
      await broker.subscribe('gym:7:*', got.handler);
      assert.equal(await pubsub(redis.port, 'NUMPAT'), 0, 'PUBSUB NUMPAT');
      const channels = (await pubsub(redis.port, 'SHARDCHANNELS', 'eventrail:{gym:*')) as string[];
      assert.equal(channels.length, scopes, 'one shard channel per scope');
      assert.deepEqual(
        await pubsub(redis.port, 'SHARDNUMSUB', 'eventrail:{gym:7}', 'eventrail:{gym:300}'),
        ['eventrail:{gym:7}', 1, 'eventrail:{gym:300}', 0],
        'one subscriber connection per shard channel',
      );
      for (let i = 0; i < scopes; i += 30) await broker.publish(`gym:${i}:students`, `to ${i}`);
      await got.waitFor(scopes / 30);
      await Promise.all(subs.map((s) => s.unsubscribe()));
      const left = (await pubsub(redis.port, 'SHARDCHANNELS', 'eventrail:{gym:*')) as string[];
      assert.deepEqual(left, ['eventrail:{gym:7}'], 'the scope still held keeps its channel');
      assert.equal(await pubsub(redis.port, 'NUMPAT'), 0);
    } finally {
      await withDeadline(broker.close(), 5_000, 'close()');
      await redis.stop();
    }
  });

  it('serves a server whose scopes are open with NUMPAT 0, and one function call per publish', async () => {
    const redis = await getRedis();
    const app = await startRedisApp({ url: redis.url, ...SHARDED }, { eventNamePrefix: 'app' });
    const streams = await Promise.all(
      Array.from({ length: 20 }, (_, i) => connected(`${app.url}/events?scope=${i + 1}`)),
    );
    try {
      assert.equal(await pubsub(redis.port, 'NUMPAT'), 0);
      const before = String(await redisCommand(redis.port, 'INFO', 'commandstats'));
      const calls = (info: string, cmd: string) =>
        Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
      for (let i = 0; i < 20; i++)
        await app.sse.publisher.publishEvent(`gym:${i + 1}:students`, {
          eventType: 'students.changed',
          data: { i },
        });
      await waitFor(
        () => streams.every((s) => payloadEvents(s).length === 1),
        'one event per scope',
      );
      const info = String(await redisCommand(redis.port, 'INFO', 'commandstats'));
      assert.equal(calls(info, 'fcall') - calls(before, 'fcall'), 20, 'one FCALL each');
      assert.equal(calls(info, 'publish'), calls(before, 'publish'), 'no PUBLISH');
      streams.forEach((s, i) => {
        const [event] = payloadEvents(s);
        assert.equal(event?.event, 'app.students.changed');
        assert.equal(event?.data, JSON.stringify({ i }));
        assert.match(event?.id ?? '', /^[0-9a-z_-]+$/, 'an id from the history');
      });
    } finally {
      for (const s of streams) s.abort();
      await app.stop();
    }
  });

  it('delivers a Go-shaped payload SPUBLISHed by redis-cli, the topic routed in the process', async () => {
    const redis = await getRedis();
    const errors: Error[] = [];
    const app = await startRedisApp(
      { url: redis.url, ...SHARDED, onError: (e) => errors.push(e) },
      { eventNamePrefix: 'app' },
    );
    const all = await connected(`${app.url}/events?scope=5`);
    const students = await connected(`${app.url}/events?scope=5&route=gym:5:students`);
    const plans = await connected(`${app.url}/events?scope=5&route=gym:5:plans`);
    try {
      const shard = 'eventrail:{gym:5}';
      // The channel anywhere in the object, as another program would write it.
      await redisCli(
        redis.port,
        'SPUBLISH',
        shard,
        '{"event_type":"students.changed","data":{"id":1},"channel":"gym:5:students"}',
      );
      // Another scope's channel on this scope's shard channel: never delivered here.
      await redisCli(redis.port, 'SPUBLISH', shard, '{"event_type":"x.y","channel":"gym:6:a"}');
      await redisCli(redis.port, 'SPUBLISH', shard, '{"event_type":"no.channel"}');
      await redisCli(redis.port, 'SPUBLISH', shard, '{"channel":"gym:5:plans","event_type":"p.q"}');
      await waitFor(() => payloadEvents(all).length === 2, 'both events at the whole-scope client');
      await sleep(QUIET_MS);
      assert.deepEqual(
        payloadEvents(all).map((e) => [e.event, e.data]),
        [
          ['app.students.changed', '{"id":1}'],
          ['app.p.q', '{}'],
        ],
      );
      assert.deepEqual(
        payloadEvents(students).map((e) => e.event),
        ['app.students.changed'],
      );
      assert.deepEqual(
        payloadEvents(plans).map((e) => e.event),
        ['app.p.q'],
      );
      const dropped = errors.filter(
        (e) => e instanceof EventrailError && e.code === 'invalid-channel',
      );
      assert.equal(dropped.length, 2, 'the foreign and the channel-less message were reported');
    } finally {
      for (const s of [all, students, plans]) s.abort();
      await app.stop();
    }
  });

  it('keeps the modes apart: a pattern publisher and a sharded server do not see each other', async () => {
    const redis = await getRedis();
    const sharded = await startRedisApp({ url: redis.url, ...SHARDED });
    const pattern = await startRedisApp({ url: redis.url });
    const atSharded = await connected(`${sharded.url}/events?scope=8`);
    const atPattern = await connected(`${pattern.url}/events?scope=8`);
    try {
      await pattern.sse.publisher.publishType('gym:8:a', 'from.pattern');
      await sharded.sse.publisher.publishType('gym:8:a', 'from.sharded');
      await redisCli(redis.port, 'PUBLISH', 'gym:8:a', '{"event_type":"from.cli"}');
      await waitFor(() => payloadEvents(atPattern).length === 2, 'the pattern side');
      await waitFor(() => payloadEvents(atSharded).length === 1, 'the sharded side');
      await sleep(QUIET_MS);
      assert.deepEqual(
        payloadEvents(atPattern).map((e) => e.event),
        ['from.pattern', 'from.cli'],
      );
      assert.deepEqual(
        payloadEvents(atSharded).map((e) => e.event),
        ['from.sharded'],
      );
    } finally {
      for (const s of [atSharded, atPattern]) s.abort();
      await Promise.all([sharded.stop(), pattern.stop()]);
    }
  });

  it('is refused with invalid-option on a Redis without sharded Pub/Sub, in bounded time', async () => {
    // What Redis 6 (or a managed Redis that disabled them) looks like: no SSUBSCRIBE, no SPUBLISH.
    const redis = await startRedis([
      '--rename-command',
      'SSUBSCRIBE',
      '',
      '--rename-command',
      'SPUBLISH',
      '',
    ]);
    const publisher = createClient({ url: redis.url });
    const subscriber = publisher.duplicate();
    await Promise.all([publisher.connect(), subscriber.connect()]);
    const setups: Array<[string, RedisBrokerOptions]> = [
      ['url', { url: redis.url, ...SHARDED }],
      ['own clients', { publisher, subscriber, ...SHARDED }],
      ['announcing sharded', { url: redis.url, announce: ['pattern', 'sharded'] }],
    ];
    try {
      for (const [what, options] of setups) {
        const errors: Error[] = [];
        const broker = createRedisBroker({ ...options, onError: (e) => errors.push(e) });
        try {
          const refused = (err: unknown) => {
            assert.ok(err instanceof EventrailError && err.code === 'broker-error', what);
            const cause = err.cause;
            assert.ok(cause instanceof EventrailError, `${what}: the cause says why`);
            assert.equal(cause.code, 'invalid-option', what);
            assert.match(cause.message, /Redis >= 7 with SSUBSCRIBE and SPUBLISH/, what);
            return true;
          };
          if (options.channels === 'sharded')
            await assert.rejects(
              broker.subscribe('gym:1:*', () => undefined),
              refused,
            );
          await assert.rejects(broker.publish('gym:1:a', 'x'), refused);
          assert.ok(
            errors.some((e) => e instanceof EventrailError && e.code === 'invalid-option'),
            `${what}: reported to onError`,
          );
        } finally {
          await withDeadline(broker.close(), 5_000, 'close()');
        }
      }
    } finally {
      await Promise.all([publisher.close(), subscriber.close()]);
      await redis.stop();
    }
  });

  it('runs examples/basic in the sharded mode when REDIS_CHANNELS=sharded', async () => {
    const redis = await startRedis();
    try {
      const output = await basicExampleDelivers({
        REDIS_URL: redis.url,
        REDIS_CHANNELS: 'sharded',
      });
      assert.match(output, /Redis, sharded channels broker/);
      const calls = String(await redisCommand(redis.port, 'INFO', 'commandstats'));
      assert.match(calls, /^cmdstat_spublish:/m, 'announced with SPUBLISH');
    } finally {
      await redis.stop();
    }
  });

  it('passes its liveness probe on a shard channel: a healthy subscription is never replaced', async () => {
    const redis = await getRedis();
    const errors: Error[] = [];
    const broker = createRedisBroker({
      url: redis.url,
      ...SHARDED,
      probeIntervalMs: 100,
      // A probe that does not come back is given up on after this: well within the wait below.
      publishTimeoutMs: 200,
      onError: (e) => errors.push(e),
    });
    try {
      const got = collector('gym:3:*');
      await broker.subscribe('gym:3:*', got.handler);
      const subscriberIds = async () =>
        String(await redisCommand(redis.port, 'CLIENT', 'LIST', 'TYPE', 'pubsub'))
          .split('\n')
          .filter((line) => line.includes('ssub=') && !line.includes('ssub=0'))
          .map((line) => /^id=(\d+)/.exec(line)?.[1]);
      const before = await subscriberIds();
      assert.equal(before.length, 1, 'one shard subscriber connection');
      await sleep(1000);
      assert.deepEqual(errors, [], 'no probe failed');
      assert.equal(broker.state?.(), 'ready');
      assert.deepEqual(await subscriberIds(), before, 'the same connection: never recycled');
      const probes = (await pubsub(redis.port, 'SHARDCHANNELS', 'eventrail:probe:*')) as string[];
      assert.equal(probes.length >= 1, true, 'the probe listens on a shard channel');
      await broker.publish('gym:3:a', 'still live');
      await got.waitFor(1);
    } finally {
      await withDeadline(broker.close(), 5_000, 'close()');
    }
  });
});
