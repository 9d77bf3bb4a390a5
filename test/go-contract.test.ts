/**
 * The wire contract with the Go eventrail, proven against the Go library itself: test/go serves
 * github.com/PabloPavan/eventrail's SSE handler and Publisher (built here with `go build`), beside
 * one of our instances, on one redis-server. Both name events `app.{type}` (EventNamePrefix and
 * eventNamePrefix "app"). Needs `go` and `redis-server`: skips loudly without them, fails under CI.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { trace } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { openTelemetry } from '../src/integrations/opentelemetry.js';
import { type RedisApp, startRedisApp } from './helpers/apps.js';
import { GO_BUILD_MS } from './helpers/budgets.js';
import {
  buildGoInterop,
  type GoBuild,
  type GoServer,
  goSkipReason,
  startGoServer,
} from './helpers/go.js';
import {
  connectRaw,
  type RawPubSubMessage,
  type RawRedisConnection,
  type RedisProcess,
  redisCommand,
  redisSkipReason,
  startRedis,
} from './helpers/redis.js';
import { openSource, type RecordingSource, type SeenEvent, waitFor } from './helpers/sse.js';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();
after(() => provider.shutdown());

/** The runner's timeout for this file (`--test-timeout`, which node passes on to it), if any. */
function fileTimeoutMs(): number {
  const args = process.execArgv;
  for (const [i, arg] of args.entries()) {
    const value = arg === '--test-timeout' ? args[i + 1] : /^--test-timeout=(.*)$/.exec(arg)?.[1];
    if (value !== undefined && Number(value) > 0) return Number(value);
  }
  return Number.POSITIVE_INFINITY;
}

/**
 * A first `go build` has its budget (GO_BUILD_MS), but inside the runner's timeout for the file
 * when that is shorter (a run of this file alone), so that a slow first build fails saying what to
 * do rather than as a timeout.
 */
const BUILD_TIMEOUT_MS = Math.max(5_000, Math.min(GO_BUILD_MS, fileTimeoutMs() - 15_000));
// A missing or doubled prefix is listened to as well, so that it shows as itself, not a timeout.
const TYPES = ['students.changed', 'plans.changed', 'apple.changed', 'warmup.ping'];
const NAMES = TYPES.flatMap((type) => [type, `app.${type}`, `app.app.${type}`]);
const WARMUP = 'app.warmup.ping';

/** What a tab saw, without the warm-up events and the ids (the Go server sends none). */
function seen(tab: RecordingSource): Array<Pick<SeenEvent, 'name' | 'data'>> {
  return tab.events.filter((e) => e.name !== WARMUP).map(({ name, data }) => ({ name, data }));
}

const skip = redisSkipReason() ?? goSkipReason();

describe('the Go eventrail and ours on one Redis', { skip }, () => {
  let redis: RedisProcess;
  let build: GoBuild | undefined;
  let go: GoServer | undefined;
  let ours: RedisApp | undefined;
  let monitor: RawRedisConnection | undefined;
  /** Every payload published on scope 1, as Redis carried it. */
  const wire: RawPubSubMessage[] = [];

  before(
    async () => {
      redis = await startRedis();
      build = await buildGoInterop(BUILD_TIMEOUT_MS);
      go = await startGoServer(build.binary, redis.url, 'app');
      ours = await startRedisApp(
        { url: redis.url, publishTimeoutMs: 2_000 },
        { eventNamePrefix: 'app', tracing: openTelemetry() },
      );
      monitor = await connectRaw(redis.port);
      monitor.onMessage((message) => wire.push(message));
      await monitor.command('PSUBSCRIBE', 'gym:1:*');
    },
    { timeout: BUILD_TIMEOUT_MS + 10_000 },
  );
  after(async () => {
    await monitor?.close();
    await ours?.stop();
    await go?.stop();
    build?.remove();
    await redis?.stop();
  });

  /** Opens tabs on both servers and publishes warm-up events until every tab gets one. */
  async function tabs(): Promise<{
    goTab: RecordingSource;
    ourTab: RecordingSource;
    originTab: RecordingSource;
  }> {
    assert.ok(go && ours && monitor);
    const goTab = openSource(`${go.url}/events?scope=1`, NAMES);
    const ourTab = openSource(`${ours.url}/events?scope=1`, NAMES);
    const originTab = openSource(`${ours.url}/events?scope=1&user=2`, NAMES);
    const all = [goTab, ourTab, originTab];
    await Promise.all(all.map((t) => t.opened));
    // The Go hub subscribes as the request arrives, without waiting for Redis to confirm.
    const warmUp = setInterval(() => {
      const payload = '{"event_type":"warmup.ping"}';
      void redisCommand(redis.port, 'PUBLISH', 'gym:1:warmup', payload).catch(() => undefined);
    }, 50);
    try {
      await waitFor(
        () => all.every((t) => t.named(WARMUP).length > 0),
        'a warm-up event on every tab',
        10_000,
      );
    } finally {
      clearInterval(warmUp);
    }
    await waitFor(() => originTab.connectionId() !== undefined, 'the origin tab connection id');
    return { goTab, ourTab, originTab };
  }

  it('Go publishes: our browsers get the event names and data the Go browsers get', async () => {
    assert.ok(go);
    const { goTab, ourTab, originTab } = await tabs();
    await go.publish('gym:1:students', 'students.changed', '{"id":123,"name":"Ana"}');
    await go.publish('gym:1:plans', 'plans.changed'); // PublishType: no data
    await go.publish('gym:1:students', 'app.students.changed', '{"id":124}'); // already prefixed
    await go.publish('gym:1:students', 'apple.changed', '{}'); // starts with "app", not "app."
    const expected = [
      { name: 'app.students.changed', data: '{"id":123,"name":"Ana"}' },
      { name: 'app.plans.changed', data: '{}' },
      { name: 'app.students.changed', data: '{"id":124}' },
      { name: 'app.apple.changed', data: '{}' },
    ];
    for (const tab of [goTab, ourTab, originTab]) {
      await waitFor(() => seen(tab).length >= 4, `four events on ${tab.source.url}`, 5_000);
    }
    assert.deepEqual(seen(goTab), expected, 'what the Go browser got');
    assert.deepEqual(seen(ourTab), seen(goTab), 'our browser got what the Go browser got');
    assert.deepEqual(seen(originTab), seen(goTab));
    for (const tab of [goTab, ourTab, originTab]) tab.close();
  });

  it('data arrives byte for byte as on the Go side: int64 ids, escapes, number spelling, spacing', async () => {
    assert.ok(go);
    const { goTab, ourTab } = await tabs();
    // An id past 2**53 (a Go int64) must not be rounded; Go escapes <, > and & in what it marshals.
    await go.publish(
      'gym:1:students',
      'students.changed',
      '{"id":9007199254740993,"name":"Ana & <José>","ratio":1.50}',
    );
    // Another program's spacing is kept, as the Go server keeps it.
    const spaced = '{"event_type":"plans.changed", "data": {"ids": [1, 2], "at": 1e3} }';
    await redisCommand(redis.port, 'PUBLISH', 'gym:1:plans', spaced);
    const expected = [
      {
        name: 'app.students.changed',
        data: '{"id":9007199254740993,"name":"Ana \\u0026 \\u003cJosé\\u003e","ratio":1.50}',
      },
      { name: 'app.plans.changed', data: '{"ids": [1, 2], "at": 1e3}' },
    ];
    for (const tab of [goTab, ourTab]) {
      await waitFor(() => seen(tab).length >= 2, `two events on ${tab.source.url}`, 5_000);
    }
    assert.deepEqual(seen(goTab), expected, 'what the Go browser got');
    assert.deepEqual(seen(ourTab), seen(goTab), 'our browser got what the Go browser got');
    for (const tab of [goTab, ourTab]) tab.close();
  });

  it('we publish with history, origin and tracing: the Go browsers get the data, no extra fields', async () => {
    assert.ok(ours);
    const { goTab, ourTab, originTab } = await tabs();
    const origin = originTab.connectionId();
    wire.length = 0;
    const publisher = ours.sse.publisher;
    await trace.getTracer('test').startActiveSpan('POST /students', async (span) => {
      await publisher.publishEvent('gym:1:students', {
        eventType: 'students.changed',
        data: { id: 7 },
        origin,
      });
      span.end();
    });
    await publisher.publishEvent('gym:1:plans', { eventType: 'app.plans.changed', data: { n: 1 } });
    await publisher.publishType('gym:1:plans', 'plans.changed');
    const expected = [
      { name: 'app.students.changed', data: '{"id":7}' },
      { name: 'app.plans.changed', data: '{"n":1}' },
      { name: 'app.plans.changed', data: '{}' },
    ];
    await waitFor(() => seen(goTab).length >= 3 && seen(ourTab).length >= 3, 'three events', 5_000);
    await waitFor(
      () => seen(originTab).length >= 2,
      'the events not caused by the origin tab',
      5_000,
    );
    assert.deepEqual(seen(goTab), expected, 'what the Go browser got');
    assert.deepEqual(seen(ourTab), expected, 'what our browser got');
    assert.deepEqual(
      seen(originTab),
      expected.slice(1),
      'the origin tab does not get its own event',
    );
    for (const e of goTab.events) assert.equal(e.id, undefined, 'the Go server sends no ids');
    for (const e of ourTab.events.filter((s) => s.name !== WARMUP)) {
      assert.ok(e.id, `our server sends history ids: ${e.name}`);
    }

    // The extra fields were really there, beside the Go shape, and the Go server ignored them.
    const ourPayloads = () => wire.filter((m) => !m.channel.endsWith(':warmup'));
    await waitFor(() => ourPayloads().length >= 3, 'our three payloads on the wire');
    const published = ourPayloads().map((m) => JSON.parse(m.payload) as Record<string, unknown>);
    assert.equal(published.length, 3, `three payloads on the wire: ${JSON.stringify(published)}`);
    const [first] = published;
    assert.deepEqual(Object.keys(first ?? {}).sort(), [
      'data',
      'event_type',
      'eventrail_epoch',
      'eventrail_id',
      'origin',
      'trace_context',
    ]);
    assert.equal(first?.origin, origin);
    assert.deepEqual(first?.data, { id: 7 });
    assert.ok(
      exporter.getFinishedSpans().some((s) => s.name === 'publish gym'),
      'the publish was traced',
    );
    for (const tab of [goTab, ourTab, originTab]) tab.close();
  });
});
